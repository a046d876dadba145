import { OAuthError, type OAuthErrorCode } from '../contracts/errors.js'

/** An error shown as a page: the client or redirect_uri cannot be trusted (RFC 6749 §4.1.2.1). */
export function pageError (description: string): OAuthError {
  return new OAuthError('invalid_request', description)
}

/** An error sent back to the (validated) redirect_uri (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6). */
export function redirectError (error: OAuthErrorCode, description: string): OAuthError {
  return new OAuthError(error, description, { allowRedirect: true, statusCode: 400 })
}

/** A step refused to this browser or this user: 403, shown as a page. */
export function forbidden (description: string): OAuthError {
  return new OAuthError('access_denied', description, { statusCode: 403 })
}
