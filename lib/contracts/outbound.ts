/**
 * The contract of the provider's one way out to the network (`ctx.fetcher`, built by
 * http/fetch.ts): client metadata documents, `jwks_uri`, back-channel logout.
 */

/** Why a request was refused or failed; `message` says more, for logs (never for end users). */
export type FetchFailureReason =
  | 'invalid_url'
  | 'refused_address'
  | 'not_https'
  | 'redirect'
  | 'timeout'
  | 'too_large'
  | 'bad_status'
  | 'not_json'
  | 'network'

export type FetchResult<T> =
  | { ok: true, value: T, status: number, headers: Headers }
  | { ok: false, reason: FetchFailureReason, message: string }

export interface GetJsonOptions {
  /** Whole request, connection to last byte. Default 5000 ms. */
  timeoutMs?: number
  /** Largest accepted body. Default 5 KiB (a client metadata document or a small JWKS). */
  maxBytes?: number
}

export interface PostFormOptions {
  /** Whole request, connection to last byte. Default 5000 ms. */
  timeoutMs?: number
}

/**
 * The SSRF-safe outbound HTTP client (`ctx.fetcher`).
 *
 * @example
 * const fetcher = createFetcher({ log: app.log })
 * const result = await fetcher.getJson('https://app.example/client.json', { maxBytes: 5120 })
 * if (!result.ok) throw new OAuthError('invalid_client', `client metadata: ${result.reason}`)
 */
export interface OutboundFetcher {
  /** GET with `Accept: application/json`; the body must be JSON (`application/json` or `+json`). */
  getJson (url: string, opts?: GetJsonOptions): Promise<FetchResult<unknown>>
  /** POST an `application/x-www-form-urlencoded` body; any 2xx is success, the body is discarded. */
  postForm (url: string, body: URLSearchParams, opts?: PostFormOptions): Promise<FetchResult<undefined>>
  /** Closes the pooled connections (the provider calls it on `app.close()`). */
  close (): Promise<void>
}
