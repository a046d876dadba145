import type { FastifyReply, FastifyRequest } from 'fastify'
import type { InteractionRecord, SessionRecord } from '../adapters/store/types.js'
import type { ProviderContext } from '../context.js'
import type { ProviderCookies } from '../cookies.js'
import { OAuthError } from '../errors.js'
import { findClient } from '../clients.js'
import { nowSeconds, randomToken, safeEqual } from '../crypto.js'
import { routes } from '../urls.js'
import { endSession } from './end.js'
import { refuseCrossSiteForm } from '../http/browser-form.js'
import { logoutLocale, renderLoggedOut, renderLogoutConfirmation } from './pages.js'
import { parseLogoutRequest, type LogoutParams, type LogoutRequest } from './logout-request.js'

export interface LogoutDeps {
  ctx: ProviderContext
  cookies: ProviderCookies
}

/** Where the user goes once the logout is answered. */
interface LogoutTarget {
  clientId?: string
  postLogoutRedirectUri?: string
  state?: string
  uiLocales: string[]
  /** The page language chosen for the confirmation page, kept for the page after its answer. */
  locale?: string
}

const forbidden = (description: string): OAuthError => new OAuthError('access_denied', description, { statusCode: 403 })
const pendingKind = 'logout'

/**
 * The end_session_endpoint (RP-Initiated Logout 1.0 §2): the relying party's request, by GET or
 * by a form POST. §2 requires asking the user unless the request proves it comes from the
 * session's relying party: no `id_token_hint`, a hint for another user or another session, or a
 * `logout_hint` naming someone else, all get the confirmation page. A POST is always confirmed:
 * arriving cross-site, it carries no SameSite=Lax session cookie, so the session is unknown.
 */
export async function handleLogoutRequest (
  deps: LogoutDeps,
  params: LogoutParams,
  request: FastifyRequest,
  reply: FastifyReply,
  method: 'GET' | 'POST'
): Promise<FastifyReply> {
  const logout = await parseLogoutRequest(deps.ctx, params)
  const target = targetOf(logout)
  const session = await currentSession(deps, request)
  if (method === 'GET' && session === undefined) return await leave(reply, target, 'signed_out', 302)
  if (method === 'GET' && session !== undefined && !needsConfirmation(logout, session)) {
    await endSession(deps.ctx, session.sessionId, 'logout')
    deps.cookies.clearSession(reply)
    return await leave(reply, target, 'signed_out', 302)
  }
  return await renderConfirmation(deps, request, reply, logout, target)
}

/** §2: "the OP MUST ask the End-User ... if an id_token_hint was not provided or if the supplied ID Token does not belong to the current OP session". */
export function needsConfirmation (logout: LogoutRequest, session: SessionRecord): boolean {
  if (logout.hint === undefined || logout.hint.sub !== session.accountId) return true
  if (logout.hint.sid !== undefined && session.sid !== undefined && logout.hint.sid !== session.sid) return true
  return logout.logoutHint !== undefined && logout.logoutHint !== session.accountId
}

/** The confirmation form's answer: CSRF token, browser binding and a same-origin post, then the decision. */
export async function handleLogoutConfirmation (deps: LogoutDeps, body: LogoutParams, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { ctx, cookies } = deps
  // The one browser-form guard (issue 12): 403 and a form.cross_site event before anything is read.
  refuseCrossSiteForm(ctx, request)
  const logoutId = body.logout_id
  if (typeof logoutId !== 'string' || logoutId === '' || logoutId.length > 64) throw new OAuthError('invalid_request', 'the sign-out request is missing or malformed')
  const pending = await ctx.store.getInteraction(logoutId)
  if (pending === undefined || pending.params.kind !== pendingKind) {
    throw new OAuthError('invalid_request', 'this sign-out request has expired or was already answered; go back to the application and start again')
  }
  const browserId = cookies.browserId(request)
  if (pending.browserId === undefined || browserId === undefined || !safeEqual(pending.browserId, browserId)) {
    throw forbidden('this sign-out request was started in another browser (or cookies are disabled)')
  }
  const token = body.csrf_token
  if (typeof token !== 'string' || !safeEqual(pending.csrfToken, token)) {
    throw forbidden('the form is missing its security token or it does not match; reload the page and try again')
  }
  const decision = body.decision
  if (decision !== 'logout' && decision !== 'stay') throw new OAuthError('invalid_request', 'the sign-out form has no decision')
  // Taken atomically: one answer per confirmation page.
  if (await ctx.store.consumeInteraction(logoutId) === undefined) throw new OAuthError('invalid_request', 'this sign-out request was already answered')

  const target = await restoreTarget(ctx, pending)
  if (decision === 'stay') return await leave(reply, target, 'stayed', 303)
  const sessionId = cookies.sessionId(request)
  if (sessionId !== undefined) await endSession(ctx, sessionId, 'logout')
  cookies.clearSession(reply)
  return await leave(reply, target, 'signed_out', 303)
}

function targetOf (logout: LogoutRequest): LogoutTarget {
  return {
    ...(logout.client === undefined ? {} : { clientId: logout.client.client_id }),
    ...(logout.postLogoutRedirectUri === undefined ? {} : { postLogoutRedirectUri: logout.postLogoutRedirectUri }),
    ...(logout.state === undefined ? {} : { state: logout.state }),
    uiLocales: logout.uiLocales,
  }
}

/** The saved target, checked again: the client may have been deleted or changed its URIs meanwhile. */
async function restoreTarget (ctx: ProviderContext, pending: InteractionRecord): Promise<LogoutTarget> {
  const { post_logout_redirect_uri: uri, state, ui_locales: locales, locale } = pending.params
  const uiLocales = locales === undefined || locales === '' ? [] : locales.split(' ')
  // The signed-out page speaks the confirmation page's language, whatever the POST's headers say.
  const language = locale === undefined ? {} : { locale }
  if (uri === undefined) return { uiLocales, ...language }
  const client = await findClient(ctx, pending.clientId)
  if (client === undefined || !(client.post_logout_redirect_uris ?? []).includes(uri)) return { uiLocales, ...language }
  return { clientId: client.client_id, postLogoutRedirectUri: uri, ...(state === undefined ? {} : { state }), uiLocales, ...language }
}

async function currentSession (deps: LogoutDeps, request: FastifyRequest): Promise<SessionRecord | undefined> {
  const sessionId = deps.cookies.sessionId(request)
  return sessionId === undefined ? undefined : await deps.ctx.store.getSession(sessionId)
}

async function renderConfirmation (deps: LogoutDeps, request: FastifyRequest, reply: FastifyReply, logout: LogoutRequest, target: LogoutTarget): Promise<FastifyReply> {
  const { ctx, cookies } = deps
  let browserId = cookies.browserId(request)
  if (browserId === undefined) {
    browserId = randomToken(16)
    cookies.setBrowserId(reply, browserId)
  }
  const locale = logoutLocale(reply, target.uiLocales)
  const params: Record<string, string> = { kind: pendingKind, ui_locales: target.uiLocales.join(' '), locale }
  if (target.postLogoutRedirectUri !== undefined) params.post_logout_redirect_uri = target.postLogoutRedirectUri
  if (target.state !== undefined) params.state = target.state
  const pending: InteractionRecord = {
    interactionId: randomToken(16),
    clientId: target.clientId ?? '',
    params,
    csrfToken: randomToken(24),
    browserId,
    expiresAt: nowSeconds() + ctx.options.ttl.interaction,
  }
  await ctx.store.saveInteraction(pending)
  return await renderLogoutConfirmation(reply, {
    locale,
    clientName: logout.client?.client_name ?? logout.client?.client_id,
    action: ctx.basePath + routes.logout,
    logoutId: pending.interactionId,
    csrfToken: pending.csrfToken,
    postLogoutRedirectUri: target.postLogoutRedirectUri,
  })
}

/** RP-Initiated Logout 1.0 §3: to the verified post_logout_redirect_uri with `state`, else our own page. */
async function leave (reply: FastifyReply, target: LogoutTarget, outcome: 'signed_out' | 'stayed', status: 302 | 303): Promise<FastifyReply> {
  reply.header('cache-control', 'no-store')
  if (target.postLogoutRedirectUri !== undefined) {
    const url = new URL(target.postLogoutRedirectUri)
    if (target.state !== undefined) url.searchParams.append('state', target.state)
    return reply.redirect(url.href, status)
  }
  return await renderLoggedOut(reply, outcome, target.locale ?? logoutLocale(reply, target.uiLocales))
}
