import { inSpan } from '../contracts/tracing.js'
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns'
import { rootCertificates } from 'node:tls'
import type { FastifyBaseLogger } from 'fastify'
import { checkOutboundUrl, isAllowedAddress, isLoopbackAddress } from './outbound-policy.js'
import sjson from 'secure-json-parse'
import { Agent, request, type Dispatcher } from 'undici'
import type { FetchFailureReason, FetchResult, OutboundFetcher } from '../contracts/outbound.js'

/**
 * The provider's one way out to the network: client metadata documents, `jwks_uri`, back-channel
 * logout. Every URL it is given comes from a third party, so it is treated as hostile
 * (server-side request forgery, OWASP SSRF prevention): https only, public addresses only —
 * checked on the address the socket actually connects to, so a DNS answer that changes between a
 * check and the connection (DNS rebinding) cannot slip through —, no redirects, bounded size and
 * time, and a typed refusal instead of an exception.
 */

export interface FetcherOptions {
  /**
   * Development only: lets https requests reach loopback addresses (127.0.0.0/8, ::1), e.g. a
   * client metadata document served by a test on the same machine. Never in production: a
   * loopback URL is how an attacker reaches services that trust local callers.
   */
  allowLoopback?: boolean
  /**
   * Development only: allows plain `http:` URLs whose host is and resolves to loopback (an issuer
   * on `http://localhost`). Other http URLs are still refused with `not_https`.
   */
  allowHttpLoopback?: boolean
  /**
   * Extra certificate authorities (PEM) trusted for https, besides Node's root store: a test's
   * self-signed certificate for an https document on loopback, or a company CA.
   */
  ca?: string | string[]
  /** Where refusals and failures are logged (debug level: the caller decides what matters). */
  log?: FastifyBaseLogger
}

export const defaultTimeoutMs = 5000
export const defaultMaxBytes = 5 * 1024
/** A response body we do not use (postForm) is read up to this much, then dropped. */
const discardLimit = 16 * 1024

const refusedCode = 'ERR_OIDC_REFUSED_ADDRESS'

class RefusedAddressError extends Error {
  readonly code = refusedCode
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

/**
 * A `lookup` for net/tls.connect: resolves with the system resolver, then refuses the whole
 * answer if any address is not allowed (a name that mixes public and private addresses is not
 * trusted with either). The socket connects only to what this returns.
 */
function guardedLookup (allowed: (address: string) => boolean) {
  return (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) return callback(error, [])
      const list = addresses
      const refused = list.find((entry) => !allowed(entry.address))
      if (list.length === 0 || refused !== undefined) {
        return callback(new RefusedAddressError(`${hostname} resolves to ${refused?.address ?? 'nothing'}, which is not a public address`), [])
      }
      if (options.all === true) return callback(null, list)
      const first = list[0]!
      callback(null, first.address, first.family)
    })
  }
}

function newAgent (allowed: (address: string) => boolean, ca?: string[]): Agent {
  return new Agent({
    // `ca` replaces Node's trust store in tls.connect, so the roots are passed along with it.
    connect: { lookup: guardedLookup(allowed), ...(ca === undefined ? {} : { ca: [...rootCertificates, ...ca] }) },
    // Few, short-lived requests: keep connections briefly, never pipeline.
    keepAliveTimeout: 2000,
    connections: 16,
  })
}

function fail (reason: FetchFailureReason, message: string): { ok: false, reason: FetchFailureReason, message: string } {
  return { ok: false, reason, message }
}

function toHeaders (raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers()
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue
    for (const item of [value].flat()) headers.append(name, item)
  }
  return headers
}

/** Drops a body we will not read; the abort it causes is expected, not an error to report. */
function discard (body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {})
  body.destroy()
}

/** Reads the body up to `limit` bytes; undefined (and the stream destroyed) past it. */
async function readLimited (body: Dispatcher.ResponseData['body'], limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    const buffer = chunk as Buffer
    size += buffer.length
    if (size > limit) {
      discard(body)
      return undefined
    }
    chunks.push(buffer)
  }
  return Buffer.concat(chunks)
}

function isJsonType (contentType: string | null): boolean {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase() ?? ''
  return mediaType === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType)
}

function causeChain (error: unknown): unknown[] {
  const chain: unknown[] = []
  let current: unknown = error
  while (current !== undefined && current !== null && chain.length < 5) {
    chain.push(current)
    current = (current as { cause?: unknown }).cause
  }
  return chain
}

/**
 * Builds the fetcher. One per provider; `close()` it when done.
 *
 * @example
 * const fetcher = createFetcher({ allowLoopback: process.env.NODE_ENV === 'development' })
 */
function hostOf (raw: string): string {
  try {
    return new URL(raw).host
  } catch {
    return ''
  }
}

export function createFetcher (options: FetcherOptions = {}): OutboundFetcher {
  const allowLoopback = options.allowLoopback === true
  const allowHttpLoopback = options.allowHttpLoopback === true
  const extraCa = options.ca === undefined ? undefined : [options.ca].flat()
  const httpsAgent = newAgent((address) => isAllowedAddress(address, allowLoopback), extraCa)
  // Plain http goes only to loopback: nothing else may be reached without TLS.
  const httpAgent = newAgent(isLoopbackAddress)
  const log = options.log

  /** The URL checks done before any connection (outbound-policy.ts, shared with registration); the agent to use or a refusal. */
  function prepare (raw: string): { url: URL, agent: Agent } | { ok: false, reason: FetchFailureReason, message: string } {
    const checked = checkOutboundUrl(raw, { allowLoopback, allowHttpLoopback })
    if (!checked.ok) return checked
    return { url: checked.url, agent: checked.plainHttp ? httpAgent : httpsAgent }
  }

  /** One span per outbound request: method and host only (a path or query may carry ids). */
  async function send<T> (
    raw: string,
    init: { method: 'GET' | 'POST', headers: Record<string, string>, body?: string, timeoutMs: number },
    read: (response: Dispatcher.ResponseData, headers: Headers) => Promise<FetchResult<T>>
  ): Promise<FetchResult<T>> {
    return await inSpan('oidc.fetch', { 'http.request.method': init.method, 'server.address': hostOf(raw) }, async (span) => {
      const result = await sendUntraced(raw, init, read)
      span.setAttribute('oidc.fetch.outcome', result.ok ? 'ok' : result.reason)
      return result
    })
  }

  async function sendUntraced<T> (
    raw: string,
    init: { method: 'GET' | 'POST', headers: Record<string, string>, body?: string, timeoutMs: number },
    read: (response: Dispatcher.ResponseData, headers: Headers) => Promise<FetchResult<T>>
  ): Promise<FetchResult<T>> {
    const prepared = prepare(raw)
    if ('ok' in prepared) return report(raw, prepared)
    const controller = new AbortController()
    const timer = setTimeout(() => { controller.abort() }, init.timeoutMs)
    try {
      const response = await request(prepared.url, {
        dispatcher: prepared.agent,
        method: init.method,
        headers: { 'user-agent': 'fastify-oidc-provider', ...init.headers },
        ...(init.body === undefined ? {} : { body: init.body }),
        signal: controller.signal,
      })
      const headers = toHeaders(response.headers)
      if (response.statusCode >= 300 && response.statusCode < 400) {
        discard(response.body)
        return report(raw, fail('redirect', `answered ${response.statusCode}; redirects are not followed`))
      }
      if (response.statusCode < 200 || response.statusCode >= 300) {
        discard(response.body)
        return report(raw, fail('bad_status', `answered ${response.statusCode}`))
      }
      return report(raw, await read(response, headers))
    } catch (error) {
      if (controller.signal.aborted) return report(raw, fail('timeout', `no complete answer within ${init.timeoutMs} ms`))
      const refused = causeChain(error).find((item) => (item as { code?: unknown }).code === refusedCode)
      if (refused !== undefined) return report(raw, fail('refused_address', (refused as Error).message))
      return report(raw, fail('network', (error as Error).message ?? 'request failed'))
    } finally {
      clearTimeout(timer)
    }
  }

  function report<T> (url: string, result: FetchResult<T>): FetchResult<T> {
    if (!result.ok) log?.debug({ url, reason: result.reason, detail: result.message }, 'fastify-oidc-provider: outbound request failed')
    return result
  }

  return {
    async getJson (url, opts = {}) {
      const maxBytes = opts.maxBytes ?? defaultMaxBytes
      return await send(url, { method: 'GET', headers: { accept: 'application/json' }, timeoutMs: opts.timeoutMs ?? defaultTimeoutMs }, async (response, headers) => {
        if (!isJsonType(headers.get('content-type'))) {
          discard(response.body)
          return fail('not_json', `content-type is ${headers.get('content-type') ?? 'missing'}, not JSON`)
        }
        const declared = Number(headers.get('content-length') ?? '0')
        if (declared > maxBytes) {
          discard(response.body)
          return fail('too_large', `the body is larger than ${maxBytes} bytes`)
        }
        const bytes = await readLimited(response.body, maxBytes)
        if (bytes === undefined) return fail('too_large', `the body is larger than ${maxBytes} bytes`)
        try {
          const value: unknown = sjson.parse(bytes.toString('utf8'), undefined, { protoAction: 'error', constructorAction: 'error' })
          return { ok: true, value, status: response.statusCode, headers }
        } catch {
          return fail('not_json', 'the body is not valid JSON')
        }
      })
    },

    async postForm (url, body, opts = {}) {
      return await send(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: body.toString(),
        timeoutMs: opts.timeoutMs ?? defaultTimeoutMs,
      }, async (response, headers) => {
        await readLimited(response.body, discardLimit)
        return { ok: true, value: undefined, status: response.statusCode, headers }
      })
    },

    async close () {
      await Promise.all([httpsAgent.close(), httpAgent.close()])
    },
  }
}
