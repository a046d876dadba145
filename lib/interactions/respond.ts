import type { OAuthError } from '../errors.js'
import type { ProviderContext } from '../context.js'
import type { AuthorizationRequest } from './request.js'

/**
 * The authorization response URL (RFC 6749 §4.1.2): parameters appended to the registered
 * redirect_uri's own query, `state` echoed byte-exact, and `iss` always (RFC 9207 §2).
 */
export function responseUrl (redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri)
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.append(name, value)
  }
  return url.href
}

export function successUrl (ctx: ProviderContext, request: AuthorizationRequest, code: string): string {
  return responseUrl(request.redirectUri, { code, state: request.state, iss: ctx.issuer })
}

/** RFC 6749 §4.1.2.1: the error response, sent only to a redirect_uri that was validated. */
export function errorUrl (ctx: ProviderContext, redirectUri: string, state: string | undefined, error: OAuthError): string {
  return responseUrl(redirectUri, {
    error: error.error,
    error_description: error.error_description,
    state,
    iss: ctx.issuer,
  })
}
