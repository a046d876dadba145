import createError from '@fastify/error'

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
  // RFC 9449 §5, §8 (DPoP) and RFC 9101 §7 / RFC 9126 §4 (an unusable request_uri).
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'invalid_request_uri'

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
  /** Extra response headers, e.g. `WWW-Authenticate`. */
  headers?: Record<string, string>
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
    super(description, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'OAuthError'
    this.error = error
    this.error_description = description
    this.statusCode = options.statusCode ?? defaultStatus[error] ?? 400
    this.headers = options.headers ?? {}
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

/** A bad plugin option: fails `register` with a message naming the option. */
export const InvalidOptionError = createError<[string, string]>(
  'FST_OIDC_INVALID_OPTION',
  'fastify-oidc-provider: option "%s" %s',
  500,
  TypeError
)

/** A key source produced no usable key. */
export const KeySourceError = createError<[string]>(
  'FST_OIDC_KEYS',
  'fastify-oidc-provider: %s',
  500
)
