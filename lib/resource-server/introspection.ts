import { sha256 } from '../tokens/crypto.js'
import { fetchJson, type IssuerDiscovery, UpstreamUnavailableError } from './upstream.js'

/** The part of an RFC 7662 §2.2 answer the guard reads. */
export interface IntrospectionAnswer {
  active: boolean
  aud?: string | string[]
  scope?: string
  exp?: number
}

const maxEntries = 10_000

/**
 * Asks the issuer's `/introspect` (RFC 7662 §2.1) as this resource server, for routes that must
 * see a revocation at once. Answers are kept `cacheTtl` seconds per token (never past its
 * `exp`), so a burst of calls with one token costs one request; the cache is bounded.
 */
export class IntrospectionClient {
  readonly #cache = new Map<string, { answer: IntrospectionAnswer, until: number }>()
  readonly #authorization: string

  constructor (
    private readonly config: { clientId: string, clientSecret: string, endpoint?: string, cacheTtl: number },
    private readonly discovery: IssuerDiscovery,
    private readonly timeoutMs: number
  ) {
    // RFC 6749 §2.3.1: client_id and secret form-urlencoded, then Basic.
    const encode = (value: string): string => encodeURIComponent(value).replaceAll('%20', '+')
    this.#authorization = `Basic ${Buffer.from(`${encode(config.clientId)}:${encode(config.clientSecret)}`).toString('base64')}`
  }

  async introspect (token: string): Promise<IntrospectionAnswer> {
    const key = sha256(token)
    const now = Date.now()
    const cached = this.#cache.get(key)
    if (cached !== undefined && cached.until > now) return cached.answer
    const endpoint = this.config.endpoint ?? await this.discovery.endpoint('introspection_endpoint')
    const body = await fetchJson(endpoint, {
      method: 'POST',
      headers: { authorization: this.#authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    }, this.timeoutMs)
    if (typeof body.active !== 'boolean') throw new UpstreamUnavailableError('the introspection answer has no active member')
    const answer: IntrospectionAnswer = {
      active: body.active,
      ...(typeof body.aud === 'string' || Array.isArray(body.aud) ? { aud: body.aud as string | string[] } : {}),
      ...(typeof body.scope === 'string' ? { scope: body.scope } : {}),
      ...(typeof body.exp === 'number' ? { exp: body.exp } : {}),
    }
    const until = Math.min(now + this.config.cacheTtl * 1000, answer.exp === undefined ? Infinity : answer.exp * 1000)
    if (until > now) {
      this.#cache.delete(key)
      this.#cache.set(key, { answer, until })
      // Oldest first out: the cache never grows past maxEntries.
      if (this.#cache.size > maxEntries) this.#cache.delete(this.#cache.keys().next().value as string)
    }
    return answer
  }
}
