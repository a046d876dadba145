import type { ClientRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'

/** A validated RP-Initiated Logout 1.0 §2 request. */
export interface LogoutRequest {
  /** The client named by `client_id` or by the hint's audience. */
  client?: ClientRecord
  /** Present only when registered for `client` (exact match, §3.1). */
  postLogoutRedirectUri?: string
  state?: string
  /** The user and session the `id_token_hint` names (expired hints included, §2). */
  hint?: { sub: string, sid?: string }
  logoutHint?: string
  uiLocales: string[]
}

/** Raw parameters from the query string or the form. */
export type LogoutParams = Record<string, unknown>

const maxLength = 4096
// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f]/

/** Every logout error is a page: nothing redirects until the target is verified (§3). */
const refuse = (description: string): OAuthError => new OAuthError('invalid_request', description)

function single (params: LogoutParams, name: string): string | undefined {
  const value = params[name]
  if (value === undefined || value === '') return undefined
  if (typeof value !== 'string') throw refuse(`parameter "${name}" must appear once`)
  if (value.length > maxLength) throw refuse(`parameter "${name}" is too long`)
  return value
}

/**
 * Reads and checks a logout request (RP-Initiated Logout 1.0 §2, §3):
 * - `id_token_hint` must be an ID token we issued (signature, issuer); an expired one is fine
 *   (§2: "the OP SHOULD accept ID Tokens ... when the RP's session ... has expired");
 * - with `client_id` too, the client must be one of the hint's audiences (§2);
 * - `post_logout_redirect_uri` must be registered for that client, compared exactly (§3.1);
 *   without a client to check it against, it is refused rather than ignored;
 * - `state` is only echoed to a verified `post_logout_redirect_uri` (§3).
 */
export async function parseLogoutRequest (ctx: ProviderContext, params: LogoutParams): Promise<LogoutRequest> {
  const request: LogoutRequest = { uiLocales: [] }
  const idTokenHint = single(params, 'id_token_hint')
  const clientId = single(params, 'client_id')
  let hintAudience: string[] = []
  if (idTokenHint !== undefined) {
    const payload = await ctx.keys.verifier.verify(idTokenHint, { typ: 'JWT', ignoreExpiry: true })
    if (payload === undefined || typeof payload.sub !== 'string') {
      throw refuse('id_token_hint is not a valid ID token issued by this provider')
    }
    hintAudience = [payload.aud ?? []].flat()
    const sid = (payload as Record<string, unknown>).sid
    request.hint = { sub: payload.sub, ...(typeof sid === 'string' ? { sid } : {}) }
  }
  if (clientId !== undefined && idTokenHint !== undefined && !hintAudience.includes(clientId)) {
    throw refuse('client_id does not match the audience of id_token_hint')
  }
  const namedClient = clientId ?? (hintAudience.length === 1 ? hintAudience[0] : undefined)
  if (namedClient !== undefined) {
    const client = await ctx.clients.find(namedClient)
    if (client === undefined) throw refuse('the application (client_id) is not registered with this provider')
    request.client = client
  }

  const redirect = single(params, 'post_logout_redirect_uri')
  if (redirect !== undefined) {
    if (request.client === undefined) throw refuse('post_logout_redirect_uri needs client_id or id_token_hint to be checked')
    if (!(request.client.post_logout_redirect_uris ?? []).includes(redirect)) {
      throw refuse('the post_logout_redirect_uri is not registered for this application')
    }
    request.postLogoutRedirectUri = redirect
  }
  const state = single(params, 'state')
  if (state !== undefined) {
    if (controlCharacters.test(state)) throw refuse('state must not contain control characters')
    request.state = state
  }
  const logoutHint = single(params, 'logout_hint')
  if (logoutHint !== undefined) request.logoutHint = logoutHint.slice(0, 256)
  const uiLocales = single(params, 'ui_locales')
  if (uiLocales !== undefined) request.uiLocales = uiLocales.split(' ').filter((tag) => /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/.test(tag)).slice(0, 10)
  return request
}
