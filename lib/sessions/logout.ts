import type { FastifyReply, FastifyRequest } from 'fastify'
import type { InteractionRecord, SessionRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { pageLocale } from '../http/pages/locale.js'
import { endSession } from './end.js'
import { renderLoggedOut } from './pages.js'
import { parseLogoutRequest, type LogoutParams, type LogoutRequest } from './logout-request.js'
import { browserSession, startBrowserInteraction, type BrowserDeps } from './browser.js'

export interface LogoutDeps extends BrowserDeps {
  /**
   * Shows a pending logout: a redirect to the host's page (`interactions.logoutUrl`), or our
   * own confirmation page; the interaction API decides (lib/interactions/service.ts).
   */
  presentLogout: (record: InteractionRecord, request: FastifyRequest, reply: FastifyReply, status: 302 | 303) => Promise<FastifyReply>
}

/** Where the user goes once the logout is answered. */
export interface LogoutTarget {
  clientId?: string
  postLogoutRedirectUri?: string
  state?: string
  uiLocales: string[]
  /** The page language chosen for the confirmation page, kept for the page after its answer. */
  locale?: string
}

/**
 * The end_session_endpoint (RP-Initiated Logout 1.0 §2): the relying party's request, by GET or
 * by a form POST. §2 requires asking the user unless the request proves it comes from the
 * session's relying party: no `id_token_hint`, a hint for another user or another session, or a
 * `logout_hint` naming someone else, all become a pending logout interaction that our page or
 * the host's (`interactions.logoutUrl`) shows. A POST is always confirmed: arriving cross-site,
 * it carries no SameSite=Lax session cookie, so the session is unknown.
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
  const session = await browserSession(deps, request)
  if (method === 'GET' && session === undefined) return await leave(deps.ctx, reply, target, 'signed_out', 302)
  if (method === 'GET' && session !== undefined && !needsConfirmation(logout, session)) {
    await endSession(deps.ctx, session.sessionId, 'logout')
    deps.cookies.clearSession(reply)
    return await leave(deps.ctx, reply, target, 'signed_out', 302)
  }
  const record = await startLogoutInteraction(deps, request, reply, logout, target)
  // After a POST: Post/Redirect/Get to the host's page.
  return await deps.presentLogout(record, request, reply, method === 'GET' ? 302 : 303)
}

/** The `kind` param of a pending logout: older instances (a rolling upgrade) still recognise the record by it. */
export const pendingLogoutKind = 'logout'

/**
 * Saves the pending logout interaction, bound to this browser (a browser cookie is set if
 * missing), with the validated target and the language of its pages.
 */
async function startLogoutInteraction (deps: LogoutDeps, request: FastifyRequest, reply: FastifyReply, logout: LogoutRequest, target: LogoutTarget): Promise<InteractionRecord> {
  const locale = pageLocale(deps.ctx.pages.catalogs, request, target.uiLocales)
  const params: Record<string, string> = { kind: pendingLogoutKind, ui_locales: target.uiLocales.join(' '), locale }
  if (target.postLogoutRedirectUri !== undefined) params.post_logout_redirect_uri = target.postLogoutRedirectUri
  if (target.state !== undefined) params.state = target.state
  if (logout.logoutHint !== undefined) params.logout_hint = logout.logoutHint
  return await startBrowserInteraction(deps, request, reply, { clientId: target.clientId ?? '', params, prompt: 'logout' })
}

/** §2: "the OP MUST ask the End-User ... if an id_token_hint was not provided or if the supplied ID Token does not belong to the current OP session". */
export function needsConfirmation (logout: LogoutRequest, session: SessionRecord): boolean {
  if (logout.hint === undefined || logout.hint.sub !== session.accountId) return true
  if (logout.hint.sid !== undefined && session.sid !== undefined && logout.hint.sid !== session.sid) return true
  return logout.logoutHint !== undefined && logout.logoutHint !== session.accountId
}

function targetOf (logout: LogoutRequest): LogoutTarget {
  return {
    ...(logout.client === undefined ? {} : { clientId: logout.client.client_id }),
    ...(logout.postLogoutRedirectUri === undefined ? {} : { postLogoutRedirectUri: logout.postLogoutRedirectUri }),
    ...(logout.state === undefined ? {} : { state: logout.state }),
    uiLocales: logout.uiLocales,
  }
}

/**
 * RP-Initiated Logout 1.0 §3: to the verified post_logout_redirect_uri with `state`; else the
 * host's signed-out page (`interactions.signedOutUrl`), else ours. The reply may be a host
 * route's (a logout finished on the host's page), so our page is rendered with the provider's
 * renderer, not `reply.oidcPages`.
 */
export async function leave (ctx: ProviderContext, reply: FastifyReply, target: LogoutTarget, outcome: 'signed_out' | 'stayed', status: 302 | 303): Promise<FastifyReply> {
  reply.header('cache-control', 'no-store')
  if (target.postLogoutRedirectUri !== undefined) {
    const url = new URL(target.postLogoutRedirectUri)
    if (target.state !== undefined) url.searchParams.append('state', target.state)
    return reply.redirect(url.href, status)
  }
  const pages = ctx.pages
  const locale = target.locale ?? pageLocale(pages.catalogs, reply.request, target.uiLocales)
  const hostPage = ctx.options.interactions?.signedOutUrl
  if (hostPage !== undefined) {
    return reply.redirect(hostPage({ outcome, locale, ...(target.clientId === undefined ? {} : { clientId: target.clientId }) }), status)
  }
  return await renderLoggedOut(pages, reply, outcome, locale)
}
