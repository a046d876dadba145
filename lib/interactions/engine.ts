import type { FastifyReply, FastifyRequest } from 'fastify'
import type { GrantRecord, InteractionRecord, SessionRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { newSid } from '../sessions/session.js'
import { endSession } from '../sessions/end.js'
import { hostMistake, OAuthError } from '../contracts/errors.js'
import { nowSeconds, randomToken } from '../tokens/crypto.js'
import { browserSession, startBrowserInteraction } from '../sessions/browser.js'
import type { ProviderCookies } from '../http/cookies.js'
import { issueCode, type Authentication } from './code.js'
import { grantCovers, needsConsent, recordGrant } from './grant.js'
import { errorUrl, successUrl } from './respond.js'
import { promptOf, requireInteractionUser } from './binding.js'
import { toInteraction } from './view.js'
import type { AuthorizationResult, ConsentResult, LoginResult } from '../contracts/interactions.js'
import type { FailureCounter } from '../http/failure-counters.js'
import { parseAuthorizationRequest } from './authorization-request.js'
import { restoreRequest, serializeRequest } from './stored-request.js'
import { resolvePushedRequest } from './par.js'
import { redirectError } from './errors.js'
import type { AuthorizationRequest, RawParams } from './types.js'

/**
 * What the interaction engine needs: the context, the cookies, the login failure counter and how a
 * pending interaction is shown (the host's `interactions.url`, or our built-in pages).
 */
export interface FlowDeps {
  ctx: ProviderContext
  cookies: ProviderCookies
  loginFailures: FailureCounter
  /** Shows a pending interaction: our page, or a redirect to the host's. */
  present: (record: InteractionRecord, authorization: AuthorizationRequest, request: FastifyRequest, reply: FastifyReply, status: 302 | 303) => Promise<FastifyReply>
}

/**
 * Handles an authorization request (GET, or POST per OIDC Core §3.1.2.1, or by reference to a
 * pushed one, RFC 9126 §4): parsed by the one parser, then decide whether the user must log in,
 * consent, or neither (SSO), as the session, the grant, `prompt`, `max_age` and
 * `id_token_hint` require. Errors before the redirect_uri is trusted render a page; after,
 * they redirect.
 */
export async function handleAuthorizationRequest (
  deps: FlowDeps,
  raw: RawParams,
  via: 'query' | 'form',
  request: FastifyRequest,
  reply: FastifyReply
): Promise<FastifyReply> {
  const { ctx } = deps
  const { params, via: source } = await resolvePushedRequest(ctx, raw, via)
  const parsed = await parseAuthorizationRequest(ctx, params, { via: source })
  if (!parsed.ok) {
    if (parsed.redirect === undefined) throw parsed.error
    return redirectOnError(ctx, reply, parsed.error, parsed.redirect.redirectUri, parsed.redirect.state, 302)
  }
  const authorization = parsed.request
  try {
    return await decide(deps, authorization, request, reply, 302)
  } catch (error) {
    return redirectOnError(ctx, reply, error, authorization.redirectUri, authorization.state, 302)
  }
}

/** Sends a redirect-able protocol error to the client; anything else propagates (error page). */
export function redirectOnError (
  ctx: ProviderContext,
  reply: FastifyReply,
  error: unknown,
  redirectUri: string,
  state: string | undefined,
  status: 302 | 303
): FastifyReply {
  if (error instanceof OAuthError && error.allowRedirect) {
    return reply.code(status).header('cache-control', 'no-store').redirect(errorUrl(ctx, redirectUri, state, error), status)
  }
  throw error
}

function loginNeeded (authorization: AuthorizationRequest, session: SessionRecord | undefined): boolean {
  if (session === undefined) return true
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
  const requested = new Set([...Object.keys(authorization.claims?.id_token ?? {}), ...Object.keys(authorization.claims?.userinfo ?? {})])
  const supported = new Set(ctx.options.scopeRegistry.supportedClaims())
  return [...requested].filter((claim) => supported.has(claim) && !released.has(claim) && claim !== 'sub' && claim !== 'auth_time' && claim !== 'acr' && claim !== 'amr')
}

function consentNeeded (ctx: ProviderContext, authorization: AuthorizationRequest, grant: GrantRecord | undefined): boolean {
  if (needsConsent(authorization, grant)) return true
  if (authorization.client.first_party === true) return false
  return unconsentedClaims(ctx, authorization, grant?.scope.split(' ') ?? []).length > 0
}

async function decide (deps: FlowDeps, authorization: AuthorizationRequest, request: FastifyRequest, reply: FastifyReply, status: 302 | 303): Promise<FastifyReply> {
  const { ctx } = deps
  const session = await browserSession(deps, request)
  // OIDC Core §3.1.2.1: prompt=none never shows anything, whoever would have shown it.
  if (loginNeeded(authorization, session)) {
    if (authorization.prompt.has('none')) throw redirectError('login_required', 'the user is not logged in')
    const record = await startInteraction(deps, 'login', authorization, request, reply)
    return await deps.present(record, authorization, request, reply, status)
  }
  const authentication = sessionAuthentication(session!)
  const grant = await ctx.store.findGrant(authentication.accountId, authorization.client.client_id)
  if (consentNeeded(ctx, authorization, grant)) {
    if (authorization.prompt.has('none')) throw redirectError('consent_required', 'the user has not consented to this application')
    const record = await startInteraction(deps, 'consent', authorization, request, reply, authentication)
    return await deps.present(record, authorization, request, reply, status)
  }
  // The grant just read is passed on: reading it again would be one more store round trip
  // (two on Redis) on every SSO authorization.
  return await issueAndRedirect(deps, authorization, authentication, authorization.scopes, reply, status, { grant })
}

function sessionAuthentication (session: SessionRecord): Authentication {
  // Optional members assigned rather than spread from temporary objects (on every SSO request).
  const authentication: Authentication = { accountId: session.accountId, authTime: session.authTime, sessionId: session.sessionId }
  if (session.sid !== undefined) authentication.sid = session.sid
  if (session.acr !== undefined) authentication.acr = session.acr
  if (session.amr !== undefined) authentication.amr = session.amr
  if (session.clients !== undefined) authentication.sessionClients = session.clients
  return authentication
}

/**
 * Issues the code for `scopes` under the user's grant (recorded or widened when the consent
 * is new) and redirects to the client. `known` is the grant when the caller just read it.
 */
async function issueAndRedirect (
  deps: FlowDeps,
  authorization: AuthorizationRequest,
  authentication: Authentication,
  scopes: readonly string[],
  reply: FastifyReply,
  status: 302 | 303,
  known?: { grant: GrantRecord | undefined },
  consented = false
): Promise<FastifyReply> {
  const { ctx } = deps
  let grant = known !== undefined ? known.grant : await ctx.store.findGrant(authentication.accountId, authorization.client.client_id)
  if (consented || !grantCovers(grant, scopes)) grant = await recordGrant(ctx, authentication.accountId, authorization, scopes)
  if (consented) {
    ctx.audit('consent.granted', { accountId: authentication.accountId, clientId: authorization.client.client_id, scope: scopes.join(' ') })
  }
  const code = await issueCode(ctx, authorization, authentication, grant!, scopes)
  reply.header('cache-control', 'no-store')
  return reply.redirect(successUrl(ctx, authorization, code), status)
}

/** Saves the login or consent step as an interaction bound to this browser, holding the request it belongs to. */
async function startInteraction (
  deps: FlowDeps,
  prompt: 'login' | 'consent',
  authorization: AuthorizationRequest,
  request: FastifyRequest,
  reply: FastifyReply,
  authentication?: Authentication
): Promise<InteractionRecord> {
  // Members left undefined are not written (startBrowserInteraction): a login step has no account yet.
  return await startBrowserInteraction(deps, request, reply, {
    clientId: authorization.client.client_id,
    params: serializeRequest(authorization),
    prompt,
    accountId: authentication?.accountId,
    authTime: authentication?.authTime,
    sessionId: authentication?.sessionId,
    sid: authentication?.sid,
    acr: authentication?.acr,
    amr: authentication?.amr,
  })
}

function checkLogin (login: LoginResult): void {
  if (typeof login !== 'object' || login === null || typeof login.accountId !== 'string' || login.accountId === '' || login.accountId.length > 255) {
    throw hostMistake('finishInteraction: login.accountId must be a non-empty string')
  }
  if (login.acr !== undefined && typeof login.acr !== 'string') throw hostMistake('finishInteraction: login.acr must be a string')
  if (login.amr !== undefined && !(Array.isArray(login.amr) && login.amr.every((value) => typeof value === 'string'))) {
    throw hostMistake('finishInteraction: login.amr must be an array of strings')
  }
}

/** The consented scopes: those requested that the result grants (never one more). */
function grantedScopes (authorization: AuthorizationRequest, consent: ConsentResult): string[] {
  if (consent.scopes === undefined) return authorization.scopes
  if (!Array.isArray(consent.scopes)) throw hostMistake('finishInteraction: consent.scopes must be an array of scope names')
  const granted = new Set(consent.scopes)
  return authorization.scopes.filter((scope) => granted.has(scope))
}

const interactionErrors = new Set(['access_denied', 'login_required', 'consent_required', 'interaction_required', 'account_selection_required'])
const defaultDescriptions: Record<string, string> = {
  access_denied: 'the user denied the request',
  login_required: 'the user could not be signed in',
  consent_required: 'the user did not consent',
  interaction_required: 'the user must interact with the provider',
  account_selection_required: 'the user must select an account',
}

/**
 * Ends a pending interaction with the host's (or our page's) result: the one code path for
 * both. The record was loaded through `loadInteraction` (browser binding, expiry, CSRF for
 * posts). It is consumed atomically (single use); a login starts a new session (new id,
 * OIDC Core §2 `auth_time`, `acr`, `amr`); then the flow resumes: consent when still needed
 * (a new interaction), else the code, or the error, goes to the client with `state` and `iss`.
 */
export async function finishInteraction (
  deps: FlowDeps,
  record: InteractionRecord,
  result: AuthorizationResult,
  request: FastifyRequest,
  reply: FastifyReply
): Promise<FastifyReply> {
  const { ctx } = deps
  const prompt = promptOf(record)
  // The service sends pending logouts to lib/sessions/logout-interaction.ts; this is the guard.
  if (prompt === 'logout') throw hostMistake('finishInteraction: this interaction is a sign-out; the result must be { logout: true } or { logout: false }')
  const authorization = await restoreRequest(ctx, record.params)
  if (typeof result !== 'object' || result === null) throw hostMistake('finishInteraction: the result must be { login }, { consent } or { error }')
  const kind = 'error' in result ? 'error' : 'login' in result ? 'login' : 'consent' in result ? 'consent' : undefined
  if (kind === undefined) throw hostMistake('finishInteraction: the result must be { login }, { consent } or { error }')
  if (kind === 'login') checkLogin((result as { login: LoginResult }).login)
  if (kind === 'consent' && prompt !== 'consent') throw hostMistake('finishInteraction: this interaction asks for a login, not a consent')
  if (kind === 'error' && !interactionErrors.has((result as { error: string }).error)) {
    throw hostMistake(`finishInteraction: error must be one of ${[...interactionErrors].join(', ')}`)
  }
  // A consent is given by the signed-in user it was asked of, in this browser's session.
  if (kind === 'consent') await requireInteractionUser(deps, request, record)

  // Taken atomically: one interaction is finished once, even if two requests race.
  if (await ctx.store.consumeInteraction(record.interactionId) === undefined) {
    throw new OAuthError('invalid_request', 'this sign-in request was already completed')
  }
  const clientId = authorization.client.client_id
  try {
    if ('error' in result) {
      if (result.error === 'access_denied' && record.accountId !== undefined) ctx.audit('consent.denied', { accountId: record.accountId, clientId })
      const description = typeof result.description === 'string' ? result.description.slice(0, 200) : defaultDescriptions[result.error]!
      throw redirectError(result.error, description)
    }
    let authentication: Authentication
    if ('login' in result) {
      authentication = await startSession(deps, result.login, clientId, request, reply)
      // OIDC Core §3.1.2.1: the user the client named with id_token_hint, or no one.
      if (authorization.hintSubject !== undefined && authorization.hintSubject !== authentication.accountId) {
        throw redirectError('login_required', 'the signed-in user is not the one the application asked for')
      }
    } else {
      authentication = {
        accountId: record.accountId!,
        authTime: record.authTime ?? 0,
        ...(record.sessionId === undefined ? {} : { sessionId: record.sessionId }),
        ...(record.sid === undefined ? {} : { sid: record.sid }),
        ...(record.acr === undefined ? {} : { acr: record.acr }),
        ...(record.amr === undefined ? {} : { amr: record.amr }),
      }
    }
    const consent = 'consent' in result ? result.consent : undefined
    if (consent !== undefined) {
      return await issueAndRedirect(deps, authorization, authentication, grantedScopes(authorization, consent), reply, 303, undefined, true)
    }
    const grant = await ctx.store.findGrant(authentication.accountId, clientId)
    if (consentNeeded(ctx, authorization, grant)) {
      // Post/Redirect/Get: the consent is a new interaction, so the login cannot be replayed.
      const next = await startInteraction(deps, 'consent', authorization, request, reply, authentication)
      return await deps.present(next, authorization, request, reply, 303)
    }
    return await issueAndRedirect(deps, authorization, authentication, authorization.scopes, reply, 303, { grant })
  } catch (error) {
    return redirectOnError(ctx, reply, error, authorization.redirectUri, authorization.state, 303)
  }
}

/**
 * A new login session at every login (no session fixation); the browser's old one is ended.
 * Ended, not just deleted: its `sid` is gone, so the clients it signed into are told (OIDC
 * Back-Channel Logout 1.0 §2.5, "session.ended" with reason `replaced`) and its token families
 * without `offline_access` end with it, as at a logout. A deleted session would leave those
 * families bound to a session that no later logout can reach.
 */
async function startSession (deps: FlowDeps, login: LoginResult, clientId: string, request: FastifyRequest, reply: FastifyReply): Promise<Authentication> {
  const { ctx, cookies } = deps
  const previous = cookies.sessionId(request)
  if (previous !== undefined) await endSession(ctx, previous, 'replaced')
  const now = nowSeconds()
  const session: SessionRecord = {
    sessionId: randomToken(32),
    accountId: login.accountId,
    authTime: now,
    expiresAt: now + ctx.options.ttl.session,
    sid: newSid(),
    ...(login.acr === undefined ? {} : { acr: login.acr }),
    ...(login.amr === undefined ? {} : { amr: [...login.amr] }),
  }
  await ctx.store.saveSession(session)
  cookies.setSession(reply, session.sessionId, login.remember !== false)
  ctx.audit('login.success', { accountId: login.accountId, clientId, ip: request.ip })
  return sessionAuthentication(session)
}

/** The public view of a record, for `getInteraction` and our own pages. */
export async function describeInteraction (deps: FlowDeps, record: InteractionRecord, request: FastifyRequest): Promise<{ interaction: ReturnType<typeof toInteraction>, authorization: AuthorizationRequest }> {
  const authorization = await restoreRequest(deps.ctx, record.params)
  return { interaction: toInteraction(deps.ctx, record, authorization, request), authorization }
}
