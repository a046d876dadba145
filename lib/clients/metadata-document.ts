import type { ClientRecord } from '../contracts/store.js'
import type { ProviderCore } from '../contracts/context.js'
import type { OptionsData } from '../contracts/options.js'
import type { ClientDocumentPolicy } from '../contracts/clients.js'
import type { FetchFailureReason } from '../contracts/outbound.js'
import { invalidOption, OAuthError } from '../contracts/errors.js'
import { supportedAlgorithms } from '../tokens/algorithms.js'
import { validateClientMetadata } from './registration/metadata.js'
import { nowSeconds } from '../tokens/crypto.js'
import { isLoopbackHostname } from '../contracts/urls.js'

/*
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00, the revision
 * the MCP authorization spec 2025-11-25 cites; sections are named by title below, as their
 * numbers move between revisions):
 * a client identifies itself with an https URL as its `client_id`, and the provider fetches the
 * client's metadata from that URL instead of a registration. One module: lookup (lib/clients/lookup.ts
 * calls it, so every endpoint gets it), URL rules, document rules, and the bounded cache.
 */

/** The bounds of the feature, with defaults applied (`clientIdMetadataDocuments` option). */
export interface ClientDocumentSettings {
  maxBytes: number
  maxCacheSeconds: number
  minCacheSeconds: number
  timeoutMs: number
  /** Development: `http://` client_id URLs on loopback (outbound.allowHttpLoopback and a loopback issuer). */
  allowHttpLoopback: boolean
  /** The host's trust policy (`clientIdMetadataDocuments.allow`): asked before anything is fetched. */
  allow?: ClientDocumentPolicy
}

export const clientDocumentDefaults = { maxBytes: 5120, maxCacheSeconds: 86400, minCacheSeconds: 60 } as const
/** Most documents kept per provider instance (least recently used dropped first). */
export const maxCachedDocuments = 1000
const maxClientIdLength = 2000

/** Why a client_id URL could not be resolved; logged and in the `client_metadata.failed` event. */
export type ClientDocumentFailureReason =
  | FetchFailureReason
  | 'invalid_client_id'
  | 'not_allowed'
  | 'client_id_mismatch'
  | 'invalid_metadata'

export type ClientDocumentResolution =
  | { ok: true, client: ClientRecord }
  | { ok: false, reason: ClientDocumentFailureReason, detail: string, description: string }

/**
 * Draft, "Client Identifier": https, a path, no `.`/`..` segments, no fragment, no user info. A query
 * is allowed (the draft says SHOULD NOT, not MUST NOT). The raw string is checked, not the
 * parsed URL, because the URL parser silently removes dot segments.
 */
export function checkClientIdUrl (clientId: string, allowHttpLoopback: boolean): { ok: true, url: URL } | { ok: false, reason: ClientDocumentFailureReason, detail: string } {
  const refuse = (detail: string, reason: ClientDocumentFailureReason = 'invalid_client_id') => ({ ok: false as const, reason, detail })
  if (clientId.length > maxClientIdLength) return refuse(`the client_id URL is longer than ${maxClientIdLength} characters`)
  let url: URL
  try {
    url = new URL(clientId)
  } catch {
    return refuse('the client_id is not a valid URL')
  }
  if (url.protocol === 'http:') {
    // Development only (the draft requires https): the fetcher also refuses http to non-loopback hosts.
    if (!allowHttpLoopback || !isLoopbackHostname(url.hostname)) return refuse('the client_id URL must use https', 'not_https')
  } else if (url.protocol !== 'https:') {
    return refuse('the client_id URL must use https', 'not_https')
  }
  // The URL parser would turn `\` into `/` (and then resolve dot segments) and encode spaces:
  // what is fetched must be the string the client named, so such strings are refused.
  // eslint-disable-next-line no-control-regex
  if (/[\\\s\u0000-\u001f\u007f]/.test(clientId)) return refuse('the client_id URL must not contain backslashes, spaces or control characters')
  if (clientId.includes('#')) return refuse('the client_id URL must not contain a fragment')
  if (url.username !== '' || url.password !== '') return refuse('the client_id URL must not contain a username or password')
  const rawPath = clientId.slice(clientId.indexOf('//') + 2).replace(/^[^/?]*/, '').split('?')[0] ?? ''
  if (rawPath === '' || rawPath === '/') return refuse('the client_id URL must contain a path')
  const segments = rawPath.split('/').map((segment) => segment.replace(/%2e/gi, '.'))
  if (segments.some((segment) => segment === '.' || segment === '..')) return refuse('the client_id URL must not contain . or .. path segments')
  return { ok: true, url }
}

/**
 * Draft, "Metadata Caching", lets the server honour HTTP caching headers within its own bounds:
 * `max-age` (less `Age`) or else `Expires`, clamped to [min, max]. `no-store`, `no-cache`,
 * `max-age=0` and a response without either header count as 0 s, so they cache for the
 * minimum: a document is not fetched again on every request of one authorization flow.
 */
export function cacheSeconds (headers: Headers, bounds: { minCacheSeconds: number, maxCacheSeconds: number }, nowMs = Date.now()): number {
  const directives = (headers.get('cache-control') ?? '').toLowerCase().split(',').map((item) => item.trim())
  let seconds = 0
  if (!directives.some((item) => item === 'no-store' || item === 'no-cache')) {
    const maxAge = directives.map((item) => /^max-age="?(\d+)"?$/.exec(item)).find((match) => match !== null)
    if (maxAge !== undefined && maxAge !== null) {
      const age = Number(headers.get('age') ?? '0')
      seconds = Number(maxAge[1]) - (Number.isFinite(age) && age > 0 ? age : 0)
    } else {
      const expires = Date.parse(headers.get('expires') ?? '')
      const date = Date.parse(headers.get('date') ?? '')
      if (!Number.isNaN(expires)) seconds = Math.floor((expires - (Number.isNaN(date) ? nowMs : date)) / 1000)
    }
  }
  return Math.min(bounds.maxCacheSeconds, Math.max(bounds.minCacheSeconds, seconds))
}

/** The shared-secret methods the draft forbids ("Client Metadata Document"): there is no way to share a secret with a document. */
const sharedSecretMethods = new Set(['client_secret_basic', 'client_secret_post', 'client_secret_jwt'])

/**
 * Draft, "Client Metadata Document": the document names the same `client_id` (simple string
 * comparison, RFC 3986 §6.2.1: no normalisation), carries no secret and no shared-secret
 * method, and passes the registration rules (lib/clients/registration/metadata.ts, with the same
 * algorithms lib/tokens/algorithms.ts publishes). A document without `token_endpoint_auth_method` is
 * a public client (`none`): RFC 7591's default, `client_secret_basic`, cannot apply here.
 * Throws `OAuthError` with a description of the first broken rule.
 */
export function clientFromDocument (ctx: ProviderCore, clientId: string, document: unknown): ClientRecord {
  const invalid = (description: string): OAuthError => new OAuthError('invalid_client_metadata', description)
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw invalid('the document is not a JSON object')
  const body = document as Record<string, unknown>
  if (body.client_id !== clientId) throw new OAuthError('invalid_client', 'the document\'s client_id is not its own URL')
  if (body.client_secret !== undefined || body.client_secret_expires_at !== undefined) {
    throw invalid('the document must not contain client_secret or client_secret_expires_at')
  }
  const method = body.token_endpoint_auth_method ?? 'none'
  if (typeof method === 'string' && sharedSecretMethods.has(method)) {
    throw invalid(`token_endpoint_auth_method '${method}' needs a shared secret; use 'none' or 'private_key_jwt'`)
  }
  const metadata = validateClientMetadata({ ...body, token_endpoint_auth_method: method }, {
    supportedScopes: ctx.options.scopes,
    allowFirstParty: false,
    algorithms: supportedAlgorithms(ctx.keys),
    issuer: ctx.issuer,
    responseTypes: ctx.options.responseTypes,
  })
  // What is left is `none` or `private_key_jwt` (the registration rules know no other method).
  return { ...metadata, client_id: clientId, client_id_issued_at: nowSeconds() }
}

/** What the user is told at /authorize; fetch failures before a connection stay vague (no network oracle). */
function describe (host: string, reason: ClientDocumentFailureReason, detail: string): string {
  const where = `the client metadata document at ${host || 'the client_id URL'}`
  switch (reason) {
    case 'refused_address':
    case 'network':
    case 'timeout':
      return `${where} could not be fetched`
    case 'redirect': return `${where} answered with a redirect; redirects are not followed`
    case 'too_large': return `${where} is too large`
    case 'not_json': return `${where} is not JSON`
    case 'bad_status': return `${where} was not answered with 200 OK`
    case 'client_id_mismatch': return `${where} names another client_id`
    case 'not_allowed': return `clients from ${host || 'this client_id URL'} are not accepted by this provider`
    default: return `${where} cannot be used: ${detail}`
  }
}

interface Entry {
  client: ClientRecord
  expiresAtMs: number
}

/**
 * The documents one provider instance resolved, in memory (not in the store: every instance
 * fetches and caches for itself; the client is never written to the store). At most
 * `maxCachedDocuments` entries, least recently used dropped first; failures are not cached.
 * Concurrent lookups of one URL share one fetch.
 *
 * @example
 * const documents = new ClientMetadataDocuments(core, clientDocumentSettings(core.options)!)
 * const result = await documents.resolve('https://app.example/client.json')
 */
export class ClientMetadataDocuments {
  readonly settings: ClientDocumentSettings
  readonly #ctx: ProviderCore
  readonly #now: () => number
  readonly #entries = new Map<string, Entry>()
  readonly #inFlight = new Map<string, Promise<ClientDocumentResolution>>()

  constructor (ctx: ProviderCore, settings: ClientDocumentSettings, now: () => number = Date.now) {
    this.#ctx = ctx
    this.settings = settings
    this.#now = now
  }

  /** The client a client_id URL stands for, or why it cannot be used. */
  async resolve (clientId: string): Promise<ClientDocumentResolution> {
    const entry = this.#entries.get(clientId)
    if (entry !== undefined) {
      this.#entries.delete(clientId)
      if (entry.expiresAtMs > this.#now()) {
        this.#entries.set(clientId, entry) // most recently used last
        this.#fetched(clientId, 'cached')
        return { ok: true, client: entry.client }
      }
    }
    const running = this.#inFlight.get(clientId)
    if (running !== undefined) return await running
    const loading = this.#load(clientId).finally(() => this.#inFlight.delete(clientId))
    this.#inFlight.set(clientId, loading)
    return await loading
  }

  async #load (clientId: string): Promise<ClientDocumentResolution> {
    const checked = checkClientIdUrl(clientId, this.settings.allowHttpLoopback)
    if (!checked.ok) return this.#fail(clientId, checked.reason, checked.detail)
    // The host's policy first: a URL it does not trust is never fetched.
    if (this.settings.allow !== undefined && await this.settings.allow(checked.url) !== true) {
      return this.#fail(clientId, 'not_allowed', 'the host\'s policy does not allow this client_id URL')
    }
    // Draft, "Client Information Discovery": a GET of the URL as is, 200 only; its security
    // considerations (SSRF, maximum response size): the fetcher refuses special
    // addresses, redirects, non-JSON and bodies over maxBytes, within the timeout.
    const result = await this.#ctx.fetcher.getJson(clientId, { maxBytes: this.settings.maxBytes, timeoutMs: this.settings.timeoutMs })
    if (!result.ok) return this.#fail(clientId, result.reason, result.message)
    if (result.status !== 200) return this.#fail(clientId, 'bad_status', `answered ${result.status}, not 200`)
    let client: ClientRecord
    try {
      client = clientFromDocument(this.#ctx, clientId, result.value)
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error
      const reason = error.error === 'invalid_client' ? 'client_id_mismatch' : 'invalid_metadata'
      return this.#fail(clientId, reason, error.error_description ?? error.error)
    }
    const seconds = cacheSeconds(result.headers, this.settings, this.#now())
    if (seconds > 0) {
      this.#entries.set(clientId, { client, expiresAtMs: this.#now() + seconds * 1000 })
      if (this.#entries.size > maxCachedDocuments) this.#entries.delete(this.#entries.keys().next().value as string)
    }
    this.#fetched(clientId, 'ok')
    return { ok: true, client }
  }

  /** Draft, "Metadata Discovery Errors": the request is aborted; the reason is logged, never cached. */
  #fail (clientId: string, reason: ClientDocumentFailureReason, detail: string): ClientDocumentResolution {
    const host = hostOf(clientId)
    this.#fetched(clientId, 'error')
    this.#ctx.audit('client_metadata.failed', { clientId: clientId.slice(0, 300), host, reason, detail: detail.slice(0, 300) })
    return { ok: false, reason, detail, description: describe(host, reason, detail) }
  }

  /** One event per lookup outcome, for metrics; not logged above debug (cache hits are frequent). */
  #fetched (clientId: string, outcome: 'ok' | 'cached' | 'error'): void {
    const event = { host: hostOf(clientId), outcome }
    this.#ctx.log.debug({ event: 'client_metadata.fetched', ...event }, 'oidc client_metadata.fetched')
    this.#ctx.events.emit('client_metadata.fetched', event, this.#ctx.log)
  }
}

function hostOf (clientId: string): string {
  try {
    return new URL(clientId).host
  } catch {
    return ''
  }
}

/** The option's bounds with defaults, or undefined when the feature is off. Throws on bad bounds. */
export function clientDocumentSettings (
  options: Pick<OptionsData, 'clientIdMetadataDocuments' | 'outbound' | 'issuer'> & { clientDocumentPolicy?: ClientDocumentPolicy }
): ClientDocumentSettings | undefined {
  const option = options.clientIdMetadataDocuments
  if (option !== true && typeof option !== 'object') return undefined
  const given = option === true ? {} : option
  const settings = {
    maxBytes: given.maxBytes ?? clientDocumentDefaults.maxBytes,
    maxCacheSeconds: given.maxCacheSeconds ?? clientDocumentDefaults.maxCacheSeconds,
    minCacheSeconds: given.minCacheSeconds ?? Math.min(clientDocumentDefaults.minCacheSeconds, given.maxCacheSeconds ?? Infinity),
    timeoutMs: options.outbound.timeoutMs,
    // http client_id URLs only for a development provider that itself runs on loopback.
    allowHttpLoopback: options.outbound.allowHttpLoopback && isLoopbackHostname(new URL(options.issuer).hostname),
    ...(options.clientDocumentPolicy === undefined ? {} : { allow: options.clientDocumentPolicy }),
  }
  if (settings.minCacheSeconds > settings.maxCacheSeconds) {
    throw invalidOption('clientIdMetadataDocuments.minCacheSeconds', `must not exceed maxCacheSeconds (${settings.maxCacheSeconds})`)
  }
  return settings
}
