import type { FastifyReply, FastifyRequest } from 'fastify'
import type { InteractionRecord, SessionRecord } from '../contracts/store.js'
import { hostMistake, OAuthError } from '../contracts/errors.js'
import type { AuthorizationResult, ConsentResult, LoginResult } from '../contracts/interactions.js'
import { nowSeconds, randomToken } from '../tokens/crypto.js'
import { newSid } from '../sessions/session.js'
import { endSession } from '../sessions/end.js'
import { limitAccountSessions } from '../sessions/account-sessions.js'
import { promptOf, requireInteractionUser } from './binding.js'
import { restoreRequest } from './stored-request.js'
import { decideConsent } from './decide.js'
import { act, respondOnError } from './steps.js'
import { interactionAuthentication, sessionAuthentication } from './authentication.js'
import { redirectError } from './errors.js'
import { denyDevice } from './device-result.js'
import type { Authentication, AuthorizationRequest, Decision, FlowDeps } from './types.js'
import { essentialAcrUnmet } from './acr.js'
import { deviceSummary } from '../sessions/device.js'

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
  // A consent is given by the signed-in user it was asked of, in this browser's session.
  if (checkResult(result, prompt) === 'consent') await requireInteractionUser(deps, request, record)

  // Taken atomically: one interaction is finished once, even if two requests race.
  if (await ctx.store.consumeInteraction(record.interactionId) === undefined) {
    throw new OAuthError('invalid_request', 'this sign-in request was already completed')
  }
  try {
    const decision = await decisionAfter(deps, record, authorization, result, request, reply)
    // Post/Redirect/Get: a consent still needed is a new interaction, so the login cannot be replayed.
    return await act(deps, decision, authorization, request, reply, 303)
  } catch (error) {
    if (authorization.deviceCodeHash !== undefined) return await denyDevice(ctx, authorization, error, request, reply)
    return respondOnError(ctx, reply, error, authorization, 303)
  }
}

/**
 * A host's result, checked before anything is consumed: a mistake is a 500 the host sees in its
 * logs. Returns what the result is, in the order `decisionAfter` reads it.
 */
function checkResult (result: AuthorizationResult, prompt: 'login' | 'consent'): 'error' | 'login' | 'consent' {
  if (typeof result !== 'object' || result === null) throw hostMistake('finishInteraction: the result must be { login }, { consent } or { error }')
  const kind = 'error' in result ? 'error' : 'login' in result ? 'login' : 'consent' in result ? 'consent' : undefined
  if (kind === undefined) throw hostMistake('finishInteraction: the result must be { login }, { consent } or { error }')
  if (kind === 'login') checkLogin((result as { login: LoginResult }).login)
  if (kind === 'consent' && prompt !== 'consent') throw hostMistake('finishInteraction: this interaction asks for a login, not a consent')
  if (kind === 'error' && !interactionErrors.has((result as { error: string }).error)) {
    throw hostMistake(`finishInteraction: error must be one of ${[...interactionErrors].join(', ')}`)
  }
  return kind
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

/** What the result of a login or consent step leads to (the interaction is consumed by now). */
async function decisionAfter (
  deps: FlowDeps,
  record: InteractionRecord,
  authorization: AuthorizationRequest,
  result: AuthorizationResult,
  request: FastifyRequest,
  reply: FastifyReply
): Promise<Decision> {
  const { ctx } = deps
  const clientId = authorization.client.client_id
  if ('error' in result) {
    if (result.error === 'access_denied' && record.accountId !== undefined) ctx.audit('consent.denied', { accountId: record.accountId, clientId })
    const description = typeof result.description === 'string' ? result.description.slice(0, 200) : defaultDescriptions[result.error]!
    return { kind: 'error', error: redirectError(result.error, description) }
  }
  if ('login' in result) {
    const authentication = await startSession(deps, result.login, clientId, request, reply)
    // OIDC Core §3.1.2.1: the user the client named with id_token_hint, or no one.
    if (authorization.hintSubject !== undefined && authorization.hintSubject !== authentication.accountId) {
      return { kind: 'error', error: redirectError('login_required', 'the signed-in user is not the one the application asked for') }
    }
    // OIDC Core §5.5.1.1: an essential acr this login did not reach is a failed authentication
    // (OpenID Connect Core Error Code unmet_authentication_requirements 1.0).
    if (essentialAcrUnmet(ctx, authorization, authentication.acr)) {
      return { kind: 'error', error: redirectError('unmet_authentication_requirements', 'the sign-in did not reach the authentication context the application requires') }
    }
    // A login may carry the consent too (one page for both): no consent step then.
    if (result.consent !== undefined) {
      return { kind: 'issue-code', authentication, scopes: grantedScopes(authorization, result.consent), grant: { consented: true } }
    }
    return await decideConsent(ctx, authorization, authentication)
  }
  // A consent step always has its user (startInteraction wrote it; requireInteractionUser checked it).
  const authentication = interactionAuthentication({ ...record, accountId: record.accountId! })
  return { kind: 'issue-code', authentication, scopes: grantedScopes(authorization, result.consent), grant: { consented: true } }
}

/** The consented scopes: those requested that the result grants (never one more). */
function grantedScopes (authorization: AuthorizationRequest, consent: ConsentResult): string[] {
  if (consent.scopes === undefined) return authorization.scopes
  if (!Array.isArray(consent.scopes)) throw hostMistake('finishInteraction: consent.scopes must be an array of scope names')
  const granted = new Set(consent.scopes)
  return authorization.scopes.filter((scope) => granted.has(scope))
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
  // For the account page's session list; escaped where shown.
  const device = deviceSummary(request.headers['user-agent'])
  if (device !== undefined) session.device = device
  await ctx.store.saveSession(session)
  await limitAccountSessions(ctx, session.accountId, session.sessionId)
  cookies.setSession(reply, session.sessionId, login.remember !== false)
  ctx.audit('login.success', { accountId: login.accountId, clientId, ip: request.ip })
  return sessionAuthentication(session)
}
