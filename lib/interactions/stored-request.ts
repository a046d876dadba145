import type { ProviderContext } from '../contracts/context.js'
import { parseAuthorizationRequest } from './authorization-request.js'
import { pageError } from './errors.js'
import type { AuthorizationRequest, RawParams } from './types.js'

/*
 * A validated request kept in the store (a pending interaction, a pushed request) is kept as
 * the parameters it stands for, and read back through the one parser: there is no second set
 * of rules for a stored request, and a client, redirect_uri or resource removed meanwhile is
 * noticed when the request is used.
 */

/** What the store keeps of a validated request: its parameters, as plain strings (the store's records hold strings). */
export function serializeRequest (request: AuthorizationRequest): Record<string, string> {
  const params: Record<string, string> = {
    client_id: request.client.client_id,
    redirect_uri: request.redirectUri,
    response_type: request.responseType,
    response_mode: request.responseMode,
    scope: request.scopes.join(' '),
    prompt: [...request.prompt].join(' '),
  }
  if (request.state !== undefined) params.state = request.state
  if (request.nonce !== undefined) params.nonce = request.nonce
  if (request.maxAge !== undefined) params.max_age = String(request.maxAge)
  if (request.loginHint !== undefined) params.login_hint = request.loginHint
  if (request.idTokenHint !== undefined) params.id_token_hint = request.idTokenHint
  if (request.dpopJkt !== undefined) params.dpop_jkt = request.dpopJkt
  if (request.uiLocales !== undefined) params.ui_locales = request.uiLocales.join(' ')
  if (request.acrValues !== undefined) params.acr_values = request.acrValues.join(' ')
  if (request.claims !== undefined) params.claims = JSON.stringify(request.claims)
  if (request.codeChallenge !== undefined) {
    params.code_challenge = request.codeChallenge
    params.code_challenge_method = request.codeChallengeMethod ?? 'S256'
  }
  // Normalised resource URIs have no spaces (RFC 3986 §2), so one space-joined string keeps them.
  if (request.resources.length > 0) params.resource = request.resources.join(' ')
  return params
}

/**
 * The parameters a stored request stands for, as the parser reads them: `resource` repeated
 * again (RFC 8707 §2), and the only response type there is for records written before it was
 * kept (a rolling upgrade).
 */
export function storedParams (stored: Readonly<Record<string, string>>): RawParams {
  const params: RawParams = { response_type: 'code', ...stored }
  if (stored.resource !== undefined) params.resource = stored.resource.split(' ')
  return params
}

/**
 * Reads a stored request back through the parser. The client is looked up again (it may be
 * gone); an error is thrown, to be shown as a page: the user is between two of our pages, not
 * on their way to the client.
 *
 * @example
 * const authorization = await restoreRequest(ctx, record.params)
 */
export async function restoreRequest (ctx: ProviderContext, stored: Readonly<Record<string, string>>): Promise<AuthorizationRequest> {
  const parsed = await parseAuthorizationRequest(ctx, storedParams(stored), { via: 'restore' })
  if (parsed.ok) return parsed.request
  // No redirect: the client or its redirect_uri is gone since the request was made.
  if (parsed.redirect === undefined) throw pageError('the application is no longer registered')
  throw parsed.error
}
