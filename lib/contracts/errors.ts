import createError, { type FastifyError } from '@fastify/error'

/**
 * Every `error` code this provider puts on the wire, spelled exactly as the RFCs spell them
 * (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 7591 §3.2.2,
 * OpenID Connect Core §3.1.2.6).
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'unsupported_token_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'account_selection_required'
  | 'request_not_supported'
  | 'request_uri_not_supported'
  | 'registration_not_supported'
  | 'slow_down'
  /** RFC 8628 §3.5: the device flow's polling answers. */
  | 'authorization_pending'
  | 'expired_token'
  /** RFC 8707 §2: the requested resource is invalid, unknown, or not granted. */
  | 'invalid_target'
  // RFC 9449 §5, §8 (DPoP) and RFC 9101 §7 / RFC 9126 §4 (an unusable request_uri).
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'invalid_request_uri'
  /** OIDC Core §3.1.2.6, RFC 9101 §6.3: the request object is invalid (signature, claims, content). */
  | 'invalid_request_object'
  /** OpenID Connect Core Error Code unmet_authentication_requirements 1.0: an essential `acr` was not reached. */
  | 'unmet_authentication_requirements'

/** Default HTTP status per error code (RFC 6749 §5.2: 400 unless said otherwise). */
const defaultStatus: Partial<Record<OAuthErrorCode, number>> = {
  invalid_client: 401,
  invalid_token: 401,
  insufficient_scope: 403,
  access_denied: 403,
  server_error: 500,
  temporarily_unavailable: 503,
  slow_down: 429,
}

export interface OAuthErrorOptions {
  /** HTTP status; defaults by code (400, 401 for invalid_client/invalid_token, ...). */
  statusCode?: number
  /** Extra response headers, e.g. `Retry-After`. Build `WWW-Authenticate` with `challenge`. */
  headers?: Record<string, string>
  /**
   * A `WWW-Authenticate` challenge built from this error (RFC 6750 §3, RFC 7235 §4.1): the
   * error code and its (cleaned) description become auth-params, so the header obeys the
   * same charset as the body.
   */
  challenge?: Challenge
  /**
   * Whether the error may be sent back to the client's redirect_uri. Only true once the
   * client and redirect_uri were validated (RFC 6749 §4.1.2.1): before that an error page
   * is shown and nothing redirects.
   */
  allowRedirect?: boolean
  /** The underlying cause, logged but never sent. */
  cause?: unknown
}

/**
 * RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3: `error_description` is
 * `1*( %x20-21 / %x23-5B / %x5D-7E )`: printable ASCII without `"` and `\`.
 */
export const errorDescriptionCharset = /^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/

/** Longer descriptions are cut: a reflected value must not grow a Location header without bound. */
const maxDescriptionLength = 300

/** Typographic characters people paste into messages, mapped to their ASCII look-alikes. */
const asciiLookAlikes: Record<string, string> = {
  '\u2018': "'", '\u2019': "'", '\u201c': "'", '\u201d': "'", '\u2013': '-', '\u2014': '-', '\u2026': '...', '\u00a0': ' ',
}

/**
 * Makes any text a valid `error_description` (RFC 6749 §5.2): `"` becomes `'`, `\` becomes `/`,
 * whitespace controls become a space, accents are dropped (é → e), anything else outside the
 * set becomes `?`, and the result is cut to 300 characters. Every OAuthError goes through it,
 * so JSON bodies, error redirects and `WWW-Authenticate` attributes cannot disagree.
 *
 * @example
 * toErrorDescription('scope "café" is not allowed') // "scope 'cafe' is not allowed"
 */
export function toErrorDescription (text: string): string {
  const cleaned = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u00a0\u2018\u2019\u201c\u201d\u2013\u2014\u2026]/g, (char) => asciiLookAlikes[char] ?? '?')
    .replaceAll('"', "'")
    .replaceAll('\\', '/')
    .replace(/[\t\n\r\f\v]/g, ' ')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, '?')
    .replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?')
  return cleaned.length > maxDescriptionLength ? `${cleaned.slice(0, maxDescriptionLength - 3)}...` : cleaned
}

/** A `WWW-Authenticate` challenge (RFC 7235 §4.1), as OAuthError builds it. */
export interface Challenge {
  /** The auth-scheme: `Bearer` (RFC 6750 §3), `Basic` (RFC 7617), `DPoP` (RFC 9449 §7.1)... */
  scheme: string
  /** The `realm` auth-param, first when present. */
  realm?: string
  /**
   * Whether `error` and `error_description` are included (default true). RFC 6750 §3.1: a
   * request with no credentials gets a challenge without them.
   */
  describe?: boolean
  /** Further auth-params after the error, e.g. `{ scope: 'openid' }` (RFC 6750 §3). */
  params?: Record<string, string>
}

/**
 * Serializes a challenge; every auth-param value is a quoted-string cleaned like a description
 * (no `"` or `\`, printable ASCII), so nothing the error carries can break the header.
 *
 * @example
 * wwwAuthenticate({ scheme: 'Bearer', realm: 'https://id.example.com' })
 * // 'Bearer realm="https://id.example.com"'
 */
export function wwwAuthenticate (challenge: Challenge, error?: { error: string, error_description: string }): string {
  const params: Array<[string, string]> = []
  if (challenge.realm !== undefined) params.push(['realm', challenge.realm])
  if (error !== undefined && challenge.describe !== false) {
    params.push(['error', error.error])
    if (error.error_description !== '') params.push(['error_description', error.error_description])
  }
  params.push(...Object.entries(challenge.params ?? {}))
  if (params.length === 0) return challenge.scheme
  return `${challenge.scheme} ${params.map(([name, value]) => `${name}="${toErrorDescription(value)}"`).join(', ')}`
}

/**
 * A protocol error: what the RFCs call an error response. The error handler serializes only
 * `error` and `error_description`; everything else stays on the server.
 *
 * @example
 * throw new OAuthError('invalid_grant', 'authorization code is invalid or expired')
 */
export class OAuthError extends Error {
  readonly error: OAuthErrorCode
  readonly error_description: string
  readonly statusCode: number
  readonly headers: Record<string, string>
  readonly allowRedirect: boolean

  constructor (error: OAuthErrorCode, description: string, options: OAuthErrorOptions = {}) {
    // `message` keeps the text as written (logs, pages for people); the wire only ever gets
    // `error_description`, cleaned once, here (RFC 6749 §5.2), so every place that sends it
    // sends the same valid text.
    super(description, options.cause === undefined ? undefined : { cause: options.cause })
    const safeDescription = toErrorDescription(description)
    this.name = 'OAuthError'
    this.error = error
    this.error_description = safeDescription
    this.statusCode = options.statusCode ?? defaultStatus[error] ?? 400
    this.headers = { ...options.headers }
    if (options.challenge !== undefined) {
      this.headers['www-authenticate'] = wwwAuthenticate(options.challenge, { error, error_description: safeDescription })
    }
    this.allowRedirect = options.allowRedirect ?? false
  }

  /** The RFC-shaped JSON body. */
  toJSON (): { error: OAuthErrorCode, error_description: string } {
    return { error: this.error, error_description: this.error_description }
  }
}

/**
 * Thrown by a Store when its backend cannot answer (connection refused, timeout, failover).
 * The endpoints turn it into `503 temporarily_unavailable`, never into a token issued without
 * being stored.
 */
export class StoreUnavailableError extends Error {
  constructor (message = 'the token store is unavailable', options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreUnavailableError'
  }
}

/**
 * What is wrong with an option, before it is worded: a bad value (`message` says what it must
 * be), or a name no schema knows (with the nearest known name, when one is close). `path` is the
 * option's full path, `ttl.code` or `clients[0].redirect_uris`.
 */
export type OptionProblem =
  | { path: string, message: string }
  | { path: string, unknown: true, suggestion?: string | undefined }

/**
 * The one wording of option errors, for both plugins: `option "ttl.code" must be integer`,
 * `unknown option 'cookiesecret' (did you mean 'cookieSecret'?)`.
 */
export function optionMessage (problem: OptionProblem): string {
  if ('unknown' in problem) {
    return `unknown option '${problem.path}'${problem.suggestion === undefined ? '' : ` (did you mean '${problem.suggestion}'?)`}`
  }
  return `option "${problem.path}" ${problem.message}`
}

/** A bad plugin option: fails `register` with a message naming the option (see `invalidOption`). */
export const InvalidOptionError = createError<[string]>(
  'FST_OIDC_INVALID_OPTION',
  'fastify-oidc-provider: %s',
  500,
  TypeError
)

/**
 * Refuses an option of the provider, worded by `optionMessage`: schema errors, unknown names and
 * the checks that need code (adapters, static clients, resources, pages, metrics) all go through it.
 *
 * @example
 * throw invalidOption('keys', 'must be a KeySource with a load() method')
 */
export function invalidOption (path: string, message: string): FastifyError
export function invalidOption (problem: OptionProblem): FastifyError
export function invalidOption (problem: OptionProblem | string, message = ''): FastifyError {
  return new InvalidOptionError(optionMessage(typeof problem === 'string' ? { path: problem, message } : problem))
}

/**
 * The provider registered twice in one context (or in a child of a context that has it): both
 * would decorate `app.oidc` and serve the same routes.
 */
export const AlreadyRegisteredError = createError(
  'FST_OIDC_ALREADY_REGISTERED',
  'fastify-oidc-provider is already registered in this Fastify context (app.oidc exists): register it once per context (two providers go each in its own `app.register(async (child) => { ... })`)',
  500
)

/** A key source produced no usable key. */
export const KeySourceError = createError<[string]>(
  'FST_OIDC_KEYS',
  'fastify-oidc-provider: %s',
  500
)

/**
 * A host's programming mistake with the interaction API (a malformed result passed to
 * `finishInteraction`, say): a 500 whose cause is logged, never sent.
 *
 * @example
 * throw hostMistake('finishInteraction: login.accountId must be a non-empty string')
 */
export function hostMistake (description: string): OAuthError {
  return new OAuthError('server_error', description, { cause: new TypeError(description) })
}
