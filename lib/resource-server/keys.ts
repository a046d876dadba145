import { createLocalJWKSet, createRemoteJWKSet, type JWTVerifyGetKey } from 'jose'
import type { PublicJwk } from '../contracts/keys.js'
import type { LocalKeys, ResourceServerOptionsData } from './options.js'
import type { IssuerDiscovery } from './upstream.js'

/**
 * Where verification keys come from. In the provider's own app, straight from it (no HTTP); the
 * local set is rebuilt only when the provider's key array changes (a rotation). Elsewhere, from
 * the issuer's JWKS with jose's remote set: fetched once, reused for `cacheMaxAge`, and fetched
 * again when a token names an unknown `kid` (a rotation), at most once per `cooldown`.
 */
export function keyResolver (options: ResourceServerOptionsData, local: LocalKeys | undefined, discovery: IssuerDiscovery): JWTVerifyGetKey {
  if (local !== undefined) {
    let current: readonly PublicJwk[] | undefined
    let getKey: JWTVerifyGetKey | undefined
    return async (header, token) => {
      const keys = local.publicKeys()
      if (keys !== current || getKey === undefined) {
        current = keys
        getKey = createLocalJWKSet({ keys: keys.map((key) => ({ ...key })) })
      }
      return await getKey(header, token)
    }
  }
  let remote: Promise<JWTVerifyGetKey> | undefined
  const create = async (): Promise<JWTVerifyGetKey> => {
    const url = options.jwksUri ?? await discovery.endpoint('jwks_uri')
    return createRemoteJWKSet(new URL(url), {
      cacheMaxAge: options.jwks.cacheMaxAge,
      cooldownDuration: options.jwks.cooldown,
      timeoutDuration: options.jwks.timeout,
    })
  }
  return async (header, token) => {
    if (remote === undefined) {
      remote = create()
      remote.catch(() => { remote = undefined })
    }
    return await (await remote)(header, token)
  }
}
