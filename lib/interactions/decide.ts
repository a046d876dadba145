import type { GrantRecord, SessionRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { nowSeconds } from '../tokens/crypto.js'
import { needsConsent } from './grant.js'
import { redirectError } from './errors.js'
import type { SessionWithGrant } from '../sessions/browser.js'
import { sessionAuthentication } from './authentication.js'
import { stepUpNeeded } from './acr.js'
import type { Authentication, AuthorizationRequest, Decision } from './types.js'

/**
 * What an authorization request needs next, as the browser's session, the user's grant,
 * `prompt`, `max_age` and the `id_token_hint`'s user say (OIDC Core §3.1.2.1-§3.1.2.4): a
 * login, a consent, the code (SSO), or an error for the client. Nothing is sent or saved here;
 * the caller acts on the decision (`act`).
 *
 * @example
 * const decision = await decide(ctx, authorization, await browserSessionWithGrant(deps, request, authorization.client.client_id))
 * return await act(deps, decision, authorization, request, reply, 302)
 */
export async function decide (ctx: ProviderContext, authorization: AuthorizationRequest, signedIn: SessionWithGrant | undefined): Promise<Decision> {
  const session = signedIn?.session
  if (session === undefined || loginNeeded(authorization, session)) {
    // OIDC Core §3.1.2.1: prompt=none never shows anything, whoever would have shown it.
    if (authorization.prompt.has('none')) return { kind: 'error', error: redirectError('login_required', 'the user is not logged in') }
    return { kind: 'login' }
  }
  // OIDC Core §3.1.2.1, §5.5.1.1: a session of a weaker class than asked for is not reused
  // silently (a password session, when a passkey's class was asked for): the user signs in again.
  if (stepUpNeeded(ctx, authorization, session.acr)) {
    if (authorization.prompt.has('none')) return { kind: 'error', error: redirectError('login_required', 'the requested authentication context needs a new sign-in') }
    return { kind: 'login' }
  }
  return await decideConsent(ctx, authorization, sessionAuthentication(session), signedIn?.grant)
}

/**
 * Once the user is known (a session, or a login just made): the consent page when the grant
 * falls short (OIDC Core §3.1.2.4), else the code under that grant.
 */
export async function decideConsent (
  ctx: ProviderContext,
  authorization: AuthorizationRequest,
  authentication: Authentication,
  /** The user's grant to this client when already read with their session (issue 32). */
  known?: { record: GrantRecord | undefined }
): Promise<Decision> {
  const grant = known !== undefined ? known.record : await ctx.store.findGrant(authentication.accountId, authorization.client.client_id)
  if (consentNeeded(ctx, authorization, grant)) {
    if (authorization.prompt.has('none')) return { kind: 'error', error: redirectError('consent_required', 'the user has not consented to this application') }
    return { kind: 'consent', authentication }
  }
  // The grant just read goes with the decision: reading it again would be one more store round
  // trip (two on Redis) on every SSO authorization.
  return { kind: 'issue-code', authentication, scopes: authorization.scopes, grant: { consented: false, existing: grant } }
}

function loginNeeded (authorization: AuthorizationRequest, session: SessionRecord): boolean {
  if (authorization.prompt.has('login')) return true
  if (authorization.maxAge !== undefined) {
    // OIDC Core §3.1.2.1: max_age=0 is prompt=login.
    if (authorization.maxAge === 0 || nowSeconds() - session.authTime > authorization.maxAge) return true
  }
  // OIDC Core §3.1.2.1: the client named another user than the session's.
  return authorization.hintSubject !== undefined && authorization.hintSubject !== session.accountId
}

/**
 * Individual claims asked for with the `claims` parameter (OIDC Core §5.5) that the granted
 * scopes do not release: asking for them needs the user's consent like a scope does.
 */
export function unconsentedClaims (ctx: ProviderContext, authorization: AuthorizationRequest, grantedScopes: Iterable<string>): string[] {
  if (authorization.claims === undefined) return []
  const released = ctx.options.scopeRegistry.released(grantedScopes)
  const requested = new Set([...Object.keys(authorization.claims.id_token ?? {}), ...Object.keys(authorization.claims.userinfo ?? {})])
  const supported = new Set(ctx.options.scopeRegistry.supportedClaims())
  return [...requested].filter((claim) => supported.has(claim) && !released.has(claim) && claim !== 'sub' && claim !== 'auth_time' && claim !== 'acr' && claim !== 'amr')
}

function consentNeeded (ctx: ProviderContext, authorization: AuthorizationRequest, grant: GrantRecord | undefined): boolean {
  if (needsConsent(authorization, grant)) return true
  if (authorization.client.first_party === true) return false
  return unconsentedClaims(ctx, authorization, grant?.scope.split(' ') ?? []).length > 0
}
