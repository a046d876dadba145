import type { FetchResult } from '../contracts/outbound.js'
import type { ClientKeySets, ProviderCore } from '../contracts/context.js'

/** The SSRF-safe fetcher's `getJson` (`lib/http/fetch.ts`, on `ctx.fetcher`); tests may pass a stand-in. */
export type GetJson = (url: string, options?: { timeoutMs?: number, maxBytes?: number }) => Promise<FetchResult<unknown>>

/** A public JWK as a client publishes it (members checked by jose when imported). */
export type ClientJwk = Record<string, unknown>

export interface JwksUriCacheOptions {
  /** How long a fetched JWKS is used before it is fetched again. Default 300 s. */
  ttlMs?: number
  /** The least time between two fetches of one URL for an unknown `kid`. Default 60 s. */
  cooldownMs?: number
  /** Per fetch. Default 3000 ms: a slow client's server must not hold the token endpoint. */
  timeoutMs?: number
  /** Largest JWKS accepted. Default 64 KiB. */
  maxBytes?: number
  /** Most URLs remembered (oldest dropped first). Default 1000. */
  maxEntries?: number
  now?: () => number
  /** Told the outcome of every fetch (not of cache answers): the `jwks_uri.fetched` event. */
  onFetched?: (url: string, outcome: 'ok' | 'error') => void
}

interface Entry {
  keys: ClientJwk[]
  fetchedAt: number
}

/** Why the keys could not be had; the caller answers `invalid_client` either way. */
export class JwksUnavailableError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'JwksUnavailableError'
  }
}

/**
 * The keys behind clients' `jwks_uri` (RFC 7591 §2), fetched through the SSRF-safe fetcher,
 * cached per URL, and fetched again once when an assertion names a `kid` the cached set lacks
 * (the client rotated its keys), at most once per cooldown so that a stream of made-up `kid`s
 * cannot turn the provider into a request amplifier. Concurrent callers share one fetch.
 *
 * @example
 * const cache = new JwksUriCache(ctx.fetcher.getJson)
 * const keys = await cache.keys('https://client.example.com/jwks.json', header.kid)
 */
export class JwksUriCache implements ClientKeySets {
  readonly #getJson: GetJson
  readonly #ttlMs: number
  readonly #cooldownMs: number
  readonly #timeoutMs: number
  readonly #maxBytes: number
  readonly #maxEntries: number
  readonly #now: () => number
  readonly #onFetched: ((url: string, outcome: 'ok' | 'error') => void) | undefined
  readonly #entries = new Map<string, Entry>()
  readonly #inFlight = new Map<string, Promise<Entry>>()
  /** When a fetch of a URL last failed: no new attempt within the cooldown. */
  readonly #failedAt = new Map<string, number>()

  constructor (getJson: GetJson, options: JwksUriCacheOptions = {}) {
    this.#getJson = getJson
    this.#ttlMs = options.ttlMs ?? 300_000
    this.#cooldownMs = options.cooldownMs ?? 60_000
    this.#timeoutMs = options.timeoutMs ?? 3000
    this.#maxBytes = options.maxBytes ?? 64 * 1024
    this.#maxEntries = options.maxEntries ?? 1000
    this.#now = options.now ?? Date.now
    this.#onFetched = options.onFetched
  }

  /**
   * The keys published at `url`. With `kid`, a cached set without that `kid` is refreshed once
   * (if the last fetch is older than the cooldown); the set is returned either way and the
   * caller's verification fails when the key is still not there.
   */
  async keys (url: string, kid?: string): Promise<ClientJwk[]> {
    const now = this.#now()
    const entry = this.#entries.get(url)
    const stale = entry === undefined || now - entry.fetchedAt >= this.#ttlMs
    const unknownKid = entry !== undefined && kid !== undefined && !entry.keys.some((key) => key.kid === kid) && now - entry.fetchedAt >= this.#cooldownMs
    if (!stale && !unknownKid) return entry.keys
    const failedAt = this.#failedAt.get(url)
    if (failedAt !== undefined && now - failedAt < this.#cooldownMs) {
      if (entry !== undefined) return entry.keys
      throw new JwksUnavailableError('jwks_uri could not be fetched recently; not retried before the cooldown ends')
    }
    try {
      const fetched = await this.#fetch(url)
      this.#failedAt.delete(url)
      return fetched.keys
    } catch (error) {
      this.#failedAt.set(url, this.#now())
      if (this.#failedAt.size > this.#maxEntries) this.#failedAt.delete(this.#failedAt.keys().next().value as string)
      // A failed refresh keeps the keys we had (the client's server may be briefly down);
      // without any, the assertion cannot be checked.
      if (entry === undefined) throw error
      return entry.keys
    }
  }

  async #fetch (url: string): Promise<Entry> {
    const running = this.#inFlight.get(url)
    if (running !== undefined) return await running
    const fetching = this.#load(url).then(
      (entry) => { this.#onFetched?.(url, 'ok'); return entry },
      (error: unknown) => { this.#onFetched?.(url, 'error'); throw error }
    ).finally(() => this.#inFlight.delete(url))
    this.#inFlight.set(url, fetching)
    return await fetching
  }

  async #load (url: string): Promise<Entry> {
    const result = await this.#getJson(url, { timeoutMs: this.#timeoutMs, maxBytes: this.#maxBytes })
    if (!result.ok) throw new JwksUnavailableError(`jwks_uri could not be fetched (${result.reason}): ${result.message}`)
    const value = result.value as { keys?: unknown } | null
    if (typeof value !== 'object' || value === null || !Array.isArray(value.keys)) {
      throw new JwksUnavailableError('jwks_uri did not return a JWK Set')
    }
    const keys = value.keys.filter((key): key is ClientJwk => typeof key === 'object' && key !== null && !Array.isArray(key))
    const entry = { keys, fetchedAt: this.#now() }
    this.#entries.delete(url)
    this.#entries.set(url, entry)
    if (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value as string)
    return entry
  }
}

/** The provider's jwks_uri cache (`ctx.clientKeySets`) over its SSRF-safe fetcher, made once at register. */
export function createClientKeySets (core: ProviderCore): ClientKeySets {
  return new JwksUriCache(async (url, options) => await core.fetcher.getJson(url, options), {
    // The host only (a URL's path or query could be anything the client chose); a URL that
    // does not parse was refused by the fetcher and never reaches here.
    onFetched: (url, outcome) => { core.audit('jwks_uri.fetched', { host: hostOf(url), outcome }) },
  })
}

function hostOf (url: string): string {
  try {
    return new URL(url).host
  } catch {
    return ''
  }
}
