import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify, type JWK } from 'jose'
import { digest, sha256 } from './crypto.js'

/**
 * DPoP proof validation (RFC 9449 §4.3), pure: no store, no provider. The replay check and the
 * nonce check are functions the caller passes in, so the provider's endpoints and the
 * resource-server plugin share this one implementation.
 */

/** RFC 9449 §4.3 item 4: asymmetric algorithms only (`Ed25519` is RFC 9864's name for EdDSA). */
export const dpopAlgorithms: readonly string[] = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA', 'Ed25519']

/** RFC 9449 §5, §7.1, §8, §9: the error codes a proof failure is answered with. */
export type DpopErrorCode = 'invalid_dpop_proof' | 'use_dpop_nonce'

export class DpopProofError extends Error {
  constructor (readonly code: DpopErrorCode, readonly description: string) {
    super(description)
    this.name = 'DpopProofError'
  }
}

export interface DpopProofCheck {
  /** The request's method (`htm`, RFC 9449 §4.2). */
  method: string
  /** The request's URL as the client addresses it (`htu`; query and fragment are ignored). */
  url: string
  /** The access token sent with the proof: the proof must carry its `ath` (§4.3 item 11). */
  accessToken?: string
  /** The key thumbprint the token is bound to (`cnf.jkt`); the proof's key must match it. */
  expectedJkt?: string
  /**
   * RFC 9449 §4.3 item 12 / §9: single use of `jti`. Called with a key unique to (jwk, jti)
   * and when it may be forgotten; returns false when the key was already recorded. Use an
   * atomic store operation (the provider passes `store.markUsed`) so it holds across instances.
   */
  markUsed: (key: string, expiresAt: number) => Promise<boolean>
  /**
   * RFC 9449 §8: when given, the proof's `nonce` must satisfy it; otherwise the answer is
   * `use_dpop_nonce` and the caller sends a fresh `DPoP-Nonce`.
   */
  checkNonce?: (nonce: string | undefined) => boolean
  /** Allowed algorithms. Default: `dpopAlgorithms`. */
  algorithms?: readonly string[]
  /** How old `iat` may be, in seconds (§4.3 item 9, §11.1). Default 300. */
  maxAgeSeconds?: number
  /** How far in the future `iat` may be, in seconds (clock skew). Default 30. */
  clockSkewSeconds?: number
  /** Seconds since the epoch. */
  now?: () => number
}

export interface VerifiedDpopProof {
  /** RFC 7638 thumbprint (SHA-256) of the proof's public key: what tokens are bound to. */
  jkt: string
  jwk: JWK
  jti: string
  iat: number
}

const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

const invalid = (description: string): DpopProofError => new DpopProofError('invalid_dpop_proof', description)

/** RFC 9449 §4.2: `ath` is the base64url SHA-256 of the access token's ASCII octets. */
export function accessTokenHash (accessToken: string): string {
  return digest('sha256', Buffer.from(accessToken, 'ascii'), 'base64url')
}

/** `htu` comparison (§4.3 item 8): scheme, host, port and path, normalized by the URL parser. */
function withoutQuery (value: string): string | undefined {
  try {
    const url = new URL(value)
    return `${url.protocol}//${url.host}${url.pathname}`
  } catch {
    return undefined
  }
}

/**
 * The one DPoP header of a request (§4.3 item 1: "not more than one"). Undefined when absent;
 * throws `invalid_dpop_proof` when repeated or empty.
 */
export function readDpopHeader (headers: Record<string, string | string[] | undefined>): string | undefined {
  const value = headers.dpop
  if (value === undefined) return undefined
  if (Array.isArray(value) || value === '' || value.includes(',')) throw invalid('send exactly one DPoP header')
  return value
}

/**
 * Verifies a DPoP proof JWT (RFC 9449 §4.3) and returns its key's thumbprint.
 *
 * @example
 * const proof = await verifyDpopProof(header, { method: 'POST', url: tokenUrl, markUsed: (key, exp) => store.markUsed(key, exp) })
 * // bind the token: cnf: { jkt: proof.jkt }
 */
export async function verifyDpopProof (proof: string, check: DpopProofCheck): Promise<VerifiedDpopProof> {
  const algorithms = check.algorithms ?? dpopAlgorithms
  const now = (check.now ?? (() => Math.floor(Date.now() / 1000)))()
  const maxAge = check.maxAgeSeconds ?? 300
  const skew = check.clockSkewSeconds ?? 30
  let header
  try {
    header = decodeProtectedHeader(proof)
  } catch {
    throw invalid('the DPoP proof is not a JWT')
  }
  if (header.typ !== 'dpop+jwt') throw invalid('the DPoP proof typ must be dpop+jwt')
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
    throw invalid(`the DPoP proof alg must be one of ${algorithms.join(' ')}`)
  }
  const jwk = header.jwk as Record<string, unknown> | undefined
  if (typeof jwk !== 'object' || jwk === null) throw invalid('the DPoP proof header has no jwk')
  if (privateMembers.some((member) => member in jwk)) throw invalid('the DPoP proof jwk must be a public key')
  let payload
  try {
    ({ payload } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [...algorithms] }))
  } catch {
    throw invalid('the DPoP proof signature is invalid')
  }
  const { jti, htm, htu, iat } = payload as Record<string, unknown>
  if (typeof jti !== 'string' || jti === '' || jti.length > 256) throw invalid('the DPoP proof jti is missing')
  if (htm !== check.method) throw invalid('the DPoP proof htm does not match the request method')
  if (typeof htu !== 'string' || withoutQuery(htu) === undefined || withoutQuery(htu) !== withoutQuery(check.url)) {
    throw invalid('the DPoP proof htu does not match the request URL')
  }
  if (check.checkNonce !== undefined && !check.checkNonce(typeof payload.nonce === 'string' ? payload.nonce : undefined)) {
    throw new DpopProofError('use_dpop_nonce', 'the authorization server requires a DPoP nonce; use the one in the DPoP-Nonce header')
  }
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid('the DPoP proof iat is missing')
  if (iat < now - maxAge || iat > now + skew) throw invalid('the DPoP proof iat is outside the accepted window')
  if (check.accessToken !== undefined) {
    if (payload.ath !== accessTokenHash(check.accessToken)) throw invalid('the DPoP proof ath does not match the access token')
  }
  const jkt = await calculateJwkThumbprint(jwk as JWK, 'sha256')
  if (check.expectedJkt !== undefined && jkt !== check.expectedJkt) throw invalid('the DPoP proof key is not the one the token is bound to')
  // Per key: a jti is the client's random value, unique for that key (§11.1).
  const fresh = await check.markUsed(`dpop:${sha256(`${jkt}:${jti}`)}`, Math.max(iat, now) + maxAge + skew)
  if (!fresh) throw invalid('the DPoP proof was already used (jti replay)')
  return { jkt, jwk: jwk as JWK, jti, iat }
}
