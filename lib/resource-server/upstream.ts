/**
 * The authorization server could not be asked (down, slow, answering garbage). Routes answer
 * 503 `temporarily_unavailable`: the token may be fine, so it is not called invalid.
 */
export class UpstreamUnavailableError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'UpstreamUnavailableError'
  }
}

const maxBodyBytes = 256 * 1024

/**
 * One bounded JSON request to a URL the host configured (the issuer's, never one taken from a
 * request): a timeout, a size limit, no redirects followed.
 */
export async function fetchJson (url: string, init: RequestInit, timeoutMs: number): Promise<Record<string, unknown>> {
  let response: Response
  try {
    response = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) })
  } catch (error) {
    throw new UpstreamUnavailableError(`request to ${url} failed`, { cause: error })
  }
  if (!response.ok) {
    await response.body?.cancel()
    throw new UpstreamUnavailableError(`${url} answered ${response.status}`)
  }
  const declared = Number(response.headers.get('content-length') ?? '0')
  if (declared > maxBodyBytes) {
    await response.body?.cancel()
    throw new UpstreamUnavailableError(`${url} answered more than ${maxBodyBytes} bytes`)
  }
  let text: string
  try {
    text = await readBounded(response)
    const value: unknown = JSON.parse(text)
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object')
    return value as Record<string, unknown>
  } catch (error) {
    throw new UpstreamUnavailableError(`${url} did not answer a JSON object`, { cause: error })
  }
}

async function readBounded (response: Response): Promise<string> {
  const reader = response.body?.getReader()
  if (reader === undefined) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > maxBodyBytes) {
      await reader.cancel()
      throw new Error('response too large')
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * The issuer's discovery document (OpenID Connect Discovery 1.0 §4, RFC 8414 §3), fetched once
 * and kept. A failure is remembered for a few seconds, so a down issuer is not asked on every
 * request.
 */
export class IssuerDiscovery {
  #document: Promise<Record<string, unknown>> | undefined
  #failedAt = 0

  constructor (private readonly issuer: string, private readonly timeoutMs: number, private readonly retryAfterMs = 5000) {}

  async get (): Promise<Record<string, unknown>> {
    if (this.#document === undefined) {
      if (Date.now() - this.#failedAt < this.retryAfterMs) throw new UpstreamUnavailableError('the issuer\'s discovery document is unavailable')
      this.#document = this.#fetch()
      this.#document.catch(() => {
        this.#document = undefined
        this.#failedAt = Date.now()
      })
    }
    return await this.#document
  }

  /** A URL member of the document, e.g. `jwks_uri`. */
  async endpoint (member: 'jwks_uri' | 'introspection_endpoint'): Promise<string> {
    const value = (await this.get())[member]
    if (typeof value !== 'string' || !/^https?:\/\//.test(value)) throw new UpstreamUnavailableError(`the issuer's discovery document has no ${member}`)
    return value
  }

  async #fetch (): Promise<Record<string, unknown>> {
    const document = await fetchJson(`${this.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } }, this.timeoutMs)
    // OpenID Connect Discovery 1.0 §4.3 / RFC 8414 §3.3: the document must name the issuer asked for.
    if (document.issuer !== this.issuer) throw new UpstreamUnavailableError('the discovery document names another issuer')
    return document
  }
}
