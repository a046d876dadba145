import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWK } from 'jose'
import type { ClientRecord } from '../contracts/store.js'
import type { ProviderContext, ProviderCore } from '../contracts/context.js'
import { nowSeconds, sha256 } from '../tokens/crypto.js'
import { assertionAlgorithms } from '../tokens/assertion-algorithms.js'

/** RFC 7523 §2.2: the only `client_assertion_type` this provider knows. */
export const jwtBearerAssertionType = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** Longest accepted assertion lifetime (`exp` from now), and the clock skew allowed. */
export const maxAssertionLifetime = 300
export const clockSkew = 30

/** Why an assertion failed: logged and audited, never detailed to the client beyond one line. */
export class AssertionError extends Error {
  constructor (readonly description: string) {
    super(description)
    this.name = 'AssertionError'
  }
}

/** The `client_id` an assertion claims to be from (its `sub`), read without trusting it. */
export function assertionSubject (assertion: string): string | undefined {
  try {
    const { sub, iss } = decodeJwt(assertion)
    return typeof sub === 'string' && sub !== '' ? sub : typeof iss === 'string' && iss !== '' ? iss : undefined
  } catch {
    return undefined
  }
}

/**
 * The client's registered public keys (`jwks`, or `jwks_uri` through the cached SSRF-safe
 * fetch), for its assertions and its request objects alike. Throws `AssertionError` saying why
 * there are none.
 */
export async function clientKeys (ctx: ProviderContext, client: ClientRecord, kid: string | undefined): Promise<JWK[]> {
  if (client.jwks !== undefined) return client.jwks.keys as JWK[]
  if (client.jwks_uri === undefined) throw new AssertionError('the client has no registered keys (jwks or jwks_uri)')
  try {
    return await ctx.clientKeySets.keys(client.jwks_uri, kid) as JWK[]
  } catch (error) {
    throw new AssertionError((error as Error).message)
  }
}

/**
 * Verifies a `private_key_jwt` client assertion (RFC 7523 §2.2 and §3, OpenID Connect Core §9):
 * signed by one of the client's registered keys with an asymmetric algorithm (the client's
 * `token_endpoint_auth_signing_alg` when it registered one); `iss` and `sub` both the
 * client_id; `aud` the issuer or the URL of the endpoint it was sent to (OIDC Core §9 says the
 * token endpoint URL; RFC 7523 §3 allows the issuer); `exp` present and at most five minutes
 * away; `jti` present and single use until `exp`, recorded in the store so a replay fails on
 * every instance (RFC 7523 §3 item 7).
 *
 * @example
 * await verifyClientAssertion(ctx, client, body.client_assertion, ctx.urls.token)
 */
export async function verifyClientAssertion (
  ctx: ProviderContext,
  client: ClientRecord,
  assertion: string,
  endpointUrl: string
): Promise<void> {
  let kid: string | undefined
  let alg: string | undefined
  try {
    const header = decodeProtectedHeader(assertion)
    kid = typeof header.kid === 'string' ? header.kid : undefined
    alg = header.alg
  } catch {
    throw new AssertionError('client_assertion is not a JWT')
  }
  const allowed = client.token_endpoint_auth_signing_alg === undefined ? assertionAlgorithms : [client.token_endpoint_auth_signing_alg]
  if (alg === undefined || !allowed.includes(alg)) {
    throw new AssertionError(`client_assertion alg must be one of ${allowed.join(', ')} (no symmetric algorithms)`)
  }
  const keys = await clientKeys(ctx, client, kid)
  const audiences = [...new Set([ctx.issuer, endpointUrl, ctx.urls.token])]
  let payload
  try {
    ({ payload } = await jwtVerify(assertion, createLocalJWKSet({ keys }), {
      algorithms: [...allowed],
      issuer: client.client_id,
      subject: client.client_id,
      audience: audiences,
      requiredClaims: ['exp', 'jti'],
      clockTolerance: clockSkew,
    }))
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'invalid'
    throw new AssertionError(`client_assertion was refused (${code.replace(/^ERR_/, '').toLowerCase()})`)
  }
  const now = nowSeconds()
  const exp = payload.exp as number
  if (exp > now + maxAssertionLifetime + clockSkew) {
    throw new AssertionError(`client_assertion exp must be at most ${maxAssertionLifetime} seconds away`)
  }
  if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) throw new AssertionError('client_assertion jti must be a string')
  if (!await consumeAssertionId(ctx, 'client-assertion', `${client.client_id}:${payload.jti}`, exp)) {
    throw new AssertionError('client_assertion was already used (jti replay)')
  }
}

/**
 * RFC 7523 §3 item 7: an assertion's `jti` is used once. Recorded in the store (`markUsed`, one
 * winner across instances) under a hash of `namespace` and `id`, kept until the assertion could
 * no longer be accepted anyway (its `exp` plus the clock skew). False when it was used before.
 * Client assertions and the assertion grants (lib/trust/) share it.
 */
export async function consumeAssertionId (ctx: ProviderCore, namespace: string, id: string, exp: number): Promise<boolean> {
  return await ctx.store.markUsed(`${namespace}:${sha256(id)}`, Math.max(exp, nowSeconds()) + clockSkew)
}
