import type { FastifyRequest } from 'fastify'
import { DpopProofError, readDpopHeader, verifyDpopProof, type VerifiedDpopProof } from '../tokens/dpop-proof.js'

/** Records a proof key once; false when it was already recorded (RFC 9449 §11.1). */
export type MarkUsed = (key: string, expiresAt: number) => Promise<boolean>

const maxEntries = 50_000

/**
 * The plugin instance's memory of proof `jti`s (RFC 9449 §11.1), bounded: entries leave when
 * their proof's `iat` window closes, and the oldest leave first past `maxEntries`. It guards one
 * process only; across several API instances a proof could be replayed at another one within
 * the `iat` window, unless the host passes a shared `dpop.markUsed` (e.g. the provider's store).
 */
export class ProofReplayCache {
  readonly #seen = new Map<string, number>()

  constructor (private readonly limit = maxEntries) {}

  async markUsed (key: string, expiresAt: number): Promise<boolean> {
    const now = Math.floor(Date.now() / 1000)
    // Insertion order is close to expiry order (every entry lives iat + window): sweep the front.
    for (const [seen, until] of this.#seen) {
      if (until > now && this.#seen.size < this.limit) break
      this.#seen.delete(seen)
    }
    const until = this.#seen.get(key)
    if (until !== undefined && until > now) return false
    this.#seen.set(key, expiresAt)
    return true
  }
}

/**
 * The URL the client addressed (RFC 9449 §4.3 item 8: `htu` is compared without query and
 * fragment). With `baseUrl` (behind a proxy that rewrites the host or strips a path prefix),
 * that base plus the request path; otherwise Fastify's `request.protocol` and `request.host`,
 * which honour `X-Forwarded-Proto`/`-Host` when the app sets `trustProxy`.
 */
export function requestUrl (request: FastifyRequest, baseUrl: string | undefined): string {
  const path = request.url.split(/[?#]/, 1)[0] ?? '/'
  if (baseUrl !== undefined) return baseUrl.replace(/\/+$/, '') + path
  return `${request.protocol}://${request.host}${path}`
}

export interface ProofCheck {
  token: string
  jkt: string
  url: string
  markUsed: MarkUsed
  maxAgeSeconds: number
  algorithms: readonly string[]
}

/**
 * RFC 9449 §7.1: a request with `Authorization: DPoP <token>` carries one DPoP proof of the
 * token's key (`cnf.jkt`), for this method and URL, with `ath` the hash of this token. Throws
 * `DpopProofError` (`invalid_dpop_proof`).
 */
export async function checkResourceProof (request: FastifyRequest, check: ProofCheck): Promise<VerifiedDpopProof> {
  const header = readDpopHeader(request.headers)
  if (header === undefined) throw new DpopProofError('invalid_dpop_proof', 'a DPoP proof is required with a DPoP-bound access token')
  return await verifyDpopProof(header, {
    method: request.method,
    url: check.url,
    accessToken: check.token,
    expectedJkt: check.jkt,
    markUsed: check.markUsed,
    maxAgeSeconds: check.maxAgeSeconds,
    algorithms: check.algorithms,
  })
}
