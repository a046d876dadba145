import { createLocalJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import type { PublicJwk, SigningKey } from './adapters/keys/types.js'

/**
 * Builds a compact JWS (RFC 7515 §7.1). Written here rather than with jose's SignJWT because the
 * signature comes from a `SigningKey`, which may be a KMS that never hands out the private key.
 */
export async function signJwt (key: SigningKey, typ: string, payload: Record<string, unknown>): Promise<string> {
  const header = Buffer.from(JSON.stringify({ alg: key.alg, typ, kid: key.kid })).toString('base64url')
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url')
  const input = `${header}.${body}`
  const signature = await key.sign(Buffer.from(input))
  return `${input}.${Buffer.from(signature).toString('base64url')}`
}

/** Verifies JWTs this provider issued, against its own published keys only. */
export class JwtVerifier {
  readonly #getKey: JWTVerifyGetKey
  readonly #algorithms: string[]
  readonly #issuer: string

  constructor (publicKeys: PublicJwk[], issuer: string) {
    this.#getKey = createLocalJWKSet({ keys: publicKeys.map((key) => ({ ...key })) })
    this.#algorithms = [...new Set(publicKeys.map((key) => key.alg))]
    this.#issuer = issuer
  }

  /**
   * Returns the payload, or undefined for anything not issued by us, not of the expected `typ`,
   * expired or malformed: callers answer with their RFC error, never with the jose error.
   */
  async verify (token: string, options: { typ: string, audience?: string, ignoreExpiry?: boolean }): Promise<JWTPayload | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.#getKey, {
        issuer: this.#issuer,
        algorithms: this.#algorithms,
        typ: options.typ,
        ...(options.audience === undefined ? {} : { audience: options.audience }),
        ...(options.ignoreExpiry === true ? { currentDate: new Date(0), clockTolerance: Number.MAX_SAFE_INTEGER } : {}),
      })
      return payload
    } catch {
      return undefined
    }
  }
}
