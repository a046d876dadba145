import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ClientRecord, InteractionRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { hostMistake, OAuthError } from '../contracts/errors.js'
import { pageLocale } from '../http/pages/locale.js'
import { publicClient } from '../tokens/claims-hook.js'
import type { LogoutInteraction, LogoutResult } from '../contracts/interactions.js'
import { endSession } from './end.js'
import { leave, type LogoutTarget } from './logout.js'
import { browserSession, type BrowserDeps } from './browser.js'

/*
 * A pending logout as an interaction: what the interaction API (lib/interactions/service.ts)
 * calls once it has checked the rules every page obeys (browser binding, expiry, CSRF and the
 * cross-site guard on posts). Our own confirmation page and a host's page both end here.
 */

/**
 * The saved target, checked again: the client may have been deleted or changed its URIs
 * meanwhile (RP-Initiated Logout 1.0 §3: only a registered URI, compared exactly).
 */
async function restoreTarget (ctx: ProviderContext, record: InteractionRecord): Promise<{ target: LogoutTarget, client?: ClientRecord }> {
  const { post_logout_redirect_uri: uri, state, ui_locales: locales, locale } = record.params
  const uiLocales = locales === undefined || locales === '' ? [] : locales.split(' ')
  // The signed-out page speaks the confirmation page's language, whatever the POST's headers say.
  const language = locale === undefined ? {} : { locale }
  const client = record.clientId === '' ? undefined : await ctx.clients.find(record.clientId)
  if (client === undefined) return { target: { uiLocales, ...language } }
  const named = { clientId: client.client_id, uiLocales, ...language }
  if (uri === undefined || !(client.post_logout_redirect_uris ?? []).includes(uri)) return { target: named, client }
  return { target: { ...named, postLogoutRedirectUri: uri, ...(state === undefined ? {} : { state }) }, client }
}

/** The public view of a pending logout (`app.oidc.getLogoutInteraction`, and our confirmation page). */
export async function describeLogoutInteraction (deps: BrowserDeps, record: InteractionRecord, request: FastifyRequest): Promise<LogoutInteraction> {
  const { target, client } = await restoreTarget(deps.ctx, record)
  const session = await browserSession(deps, request)
  const interaction: LogoutInteraction = {
    id: record.interactionId,
    prompt: 'logout',
    uiLocales: target.uiLocales,
    locale: target.locale ?? pageLocale(deps.ctx.pages.catalogs, request, target.uiLocales),
    csrfToken: record.csrfToken,
    expiresAt: record.expiresAt,
  }
  if (client !== undefined) interaction.client = publicClient(client)
  if (target.postLogoutRedirectUri !== undefined) interaction.postLogoutRedirectUri = target.postLogoutRedirectUri
  if (session !== undefined) interaction.account = { accountId: session.accountId, authTime: session.authTime }
  if (record.params.logout_hint !== undefined) interaction.logoutHint = record.params.logout_hint
  return interaction
}

/**
 * Ends a pending logout with the user's answer: the one code path for our page and the host's.
 * Single use (taken atomically). `{ logout: true }` ends this browser's session (its token
 * families without `offline_access`, back-channel logout: lib/sessions/end.ts) and clears the
 * cookie. Either answer then leaves for the verified post_logout_redirect_uri with `state`, else
 * the signed-out page: RP-Initiated Logout 1.0 §2 asks the OP whether to log out "of the OP as
 * well"; the relying party has already logged the user out of itself and asked to get the
 * browser back, and §3 only forbids redirecting to an unverified URI. node-oidc-provider and
 * Connect2id redirect after a "no" the same way; the OpenID Connect WG (issue 1549, 2022)
 * agreed a validated post_logout_redirect_uri is always honoured.
 */
export async function finishLogout (
  deps: BrowserDeps,
  record: InteractionRecord,
  result: LogoutResult,
  request: FastifyRequest,
  reply: FastifyReply
): Promise<FastifyReply> {
  const { ctx, cookies } = deps
  if (typeof result !== 'object' || result === null || typeof result.logout !== 'boolean') {
    throw hostMistake('finishInteraction: this interaction is a sign-out; the result must be { logout: true } or { logout: false }')
  }
  // Taken atomically: one answer per pending logout, even if two requests race.
  if (await ctx.store.consumeInteraction(record.interactionId) === undefined) {
    throw new OAuthError('invalid_request', 'this sign-out request was already answered')
  }
  const { target } = await restoreTarget(ctx, record)
  if (!result.logout) return await leave(ctx, reply, target, 'stayed', 303)
  const sessionId = cookies.sessionId(request)
  if (sessionId !== undefined) await endSession(ctx, sessionId, 'logout')
  cookies.clearSession(reply)
  return await leave(ctx, reply, target, 'signed_out', 303)
}
