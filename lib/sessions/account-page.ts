import { createHmac } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import type { SessionRecord } from '../contracts/store.js'
import { OAuthError } from '../contracts/errors.js'
import { accountRoutes } from '../contracts/urls.js'
import { renderPage, requestLocale } from '../http/pages/render.js'
import { scopeDescription } from '../http/pages/scope-text.js'
import { safeEqual } from '../tokens/crypto.js'
import { browserSession, type BrowserDeps } from './browser.js'
import { listConnectedApps, revokeConnectedApp, type ConnectedApp } from './connected-apps.js'
import { endAccountSession, listAccountSessions, type AccountSession } from './account-sessions.js'
import { leave } from './logout.js'
import { passkeyField, passkeysView, type AccountPasskeys } from './account-passkeys.js'

/*
 * The built-in account page (the `accountPage` option, issue 30): the signed-in user's connected
 * apps and login sessions, each with a form that revokes or ends it. The user is the one the
 * provider's own session cookie names; nothing on the page or in its forms names another
 * account. Every form carries a CSRF token bound to the session (an HMAC of the session id under
 * the cookie secret, so every instance checks it without a store read) and passes the
 * cross-site form guard before this code runs (lib/routes/account.ts).
 */

/** Notices after a form (Post/Redirect/Get): the query's `done`, one of these keys only. */
const notices = {
  revoked: 'account.revoked',
  ended: 'account.ended',
  passkey_added: 'account.passkeyAdded',
  passkey_renamed: 'account.passkeyRenamed',
  passkey_removed: 'account.passkeyRemoved',
  passkey_failed: 'account.passkeyFailed',
} as const

/** The page's dependencies: the browser's cookies, and the passkey ceremonies when `passkeys` is on. */
export interface AccountPageDeps extends BrowserDeps {
  passkeys?: AccountPasskeys
}

/** Apps shown at most (one page of the account's grant index); the rest are summarised. */
const appsShown = 100

/**
 * The CSRF token of the account page's forms for this session. Derived, not stored: an HMAC
 * under the first cookie secret (the one cookies are signed with), so it is the same on every
 * instance and dies with the session.
 */
export function accountCsrfToken (ctx: ProviderContext, sessionId: string): string {
  const secret = [ctx.options.cookieSecret ?? ''].flat()[0] ?? ''
  return createHmac('sha256', secret).update(`account-page\0${sessionId}`).digest('base64url')
}

/** GET /account: the page, or a clear "not signed in" page (never an error). */
export async function showAccountPage (deps: AccountPageDeps, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { ctx } = deps
  const locale = requestLocale(reply)
  const catalogs = reply.oidcPages.catalogs
  const session = await browserSession(deps, request)
  if (session === undefined) {
    return await renderPage(reply, 'account', { locale, title: catalogs.t(locale, 'account.signedOutTitle'), signedIn: false })
  }
  const when = dateFormat(locale)
  const [page, sessions, account, passkeys] = await Promise.all([
    listConnectedApps(ctx, session.accountId, { limit: appsShown }),
    listAccountSessions(ctx, session.accountId, session.sessionId),
    accountName(ctx, session.accountId),
    deps.passkeys === undefined ? undefined : passkeysView(deps.passkeys, ctx.basePath, session.accountId, when),
  ])
  const describe = (scope: string): { name: string, description: string } => ({ name: scope, description: scopeDescription(ctx, catalogs, locale, scope) })
  const apps = page.apps.map((app) => appView(app, when, describe))
  const done = (request.query as Record<string, unknown> | undefined)?.done
  const notice = typeof done === 'string' && Object.hasOwn(notices, done) ? catalogs.t(locale, notices[done as keyof typeof notices]) : undefined
  return await reply.oidcPages.send(reply, 'account', {
    locale,
    title: catalogs.t(locale, 'account.title'),
    signedIn: true,
    account,
    apps,
    moreApps: page.next !== undefined,
    sessions: sessions.map((entry) => sessionView(entry, when)),
    csrfToken: accountCsrfToken(ctx, session.sessionId),
    actions: {
      revokeApp: ctx.basePath + accountRoutes.revokeApp,
      endSession: ctx.basePath + accountRoutes.endSession,
    },
    notice,
    passkeys,
  }, {
    locale,
    imageSources: [...new Set(apps.flatMap((app) => app.logoOrigin === undefined ? [] : [app.logoOrigin]))],
    ...(deps.passkeys === undefined ? {} : { scriptSource: deps.passkeys.scripts.source }),
  })
}

/**
 * POST /account/apps/revoke: ends the app's access (`grant_id` names one of the user's grants;
 * every grant of the user to that client ends, as `app.oidc.connectedApps.revoke`). A grant of
 * another account, or none, is refused (404) and nothing changes.
 */
export async function submitRevokeApp (deps: BrowserDeps, body: Record<string, unknown>, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const session = await signedInForm(deps, body, request)
  if (session === undefined) return await backToPage(deps.ctx, reply)
  const grantId = stringField(body.grant_id, 'grant_id')
  const grant = await deps.ctx.store.getGrant(grantId)
  if (grant === undefined || grant.accountId !== session.accountId) {
    throw new OAuthError('invalid_request', 'this app is not connected to your account (it may have been removed already)', { statusCode: 404 })
  }
  await revokeConnectedApp(deps.ctx, session.accountId, grant.clientId, 'account')
  return await backToPage(deps.ctx, reply, 'revoked')
}

/**
 * POST /account/sessions/end: ends one of the user's sessions (`sid`), on every instance, with
 * back-channel logout as a logout does. Ending the page's own session signs the browser out.
 */
export async function submitEndSession (deps: BrowserDeps, body: Record<string, unknown>, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const session = await signedInForm(deps, body, request)
  if (session === undefined) return await backToPage(deps.ctx, reply)
  const sid = stringField(body.sid, 'sid')
  const ended = await endAccountSession(deps.ctx, session.accountId, sid, 'account')
  if (ended === undefined) {
    throw new OAuthError('invalid_request', 'this session is not one of yours, or it has ended already', { statusCode: 404 })
  }
  if (ended.sessionId !== session.sessionId) return await backToPage(deps.ctx, reply, 'ended')
  deps.cookies.clearSession(reply)
  return await leave(deps.ctx, reply, { uiLocales: [] }, 'signed_out', 303)
}

/**
 * POST /account/passkeys/options: registration options for the signed-in user (JSON, for the
 * page's script), as the enrolment offer asks them; the challenge is bound to this browser.
 */
export async function passkeyOptions (deps: AccountPageDeps, body: Record<string, unknown>, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const passkeys = passkeysOf(deps)
  const session = await signedInForm(deps, body, request)
  if (session === undefined) throw new OAuthError('access_denied', 'you are not signed in', { statusCode: 403 })
  const claims = await deps.ctx.users.claims(session.accountId, new Set(['openid', 'profile', 'email']))
  const userName = await accountName(deps.ctx, session.accountId)
  reply.header('cache-control', 'no-store')
  return await passkeys.registrationOptions(reply, { accountId: session.accountId, userName, displayName: typeof claims?.name === 'string' && claims.name !== '' ? claims.name : userName })
}

/** POST /account/passkeys/add: the ceremony's result; verified, the passkey is the user's. */
export async function submitPasskeyAdd (deps: AccountPageDeps, body: Record<string, unknown>, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const passkeys = passkeysOf(deps)
  const session = await signedInForm(deps, body, request)
  if (session === undefined) return await backToPage(deps.ctx, reply)
  const name = typeof body.name === 'string' && body.name.trim() !== '' ? { name: body.name.trim().slice(0, 64) } : {}
  try {
    await passkeys.verifyRegistration(request, { accountId: session.accountId, response: body.response, ...name })
  } catch (error) {
    // A ceremony that did not verify (cancelled, replayed, another challenge): said on the page.
    if (error instanceof OAuthError && error.statusCode < 500) return await backToPage(deps.ctx, reply, 'passkey_failed')
    throw error
  }
  return await backToPage(deps.ctx, reply, 'passkey_added')
}

/** POST /account/passkeys/rename and /remove: one of the user's passkeys; another's is a 404. */
export async function submitPasskeyChange (deps: AccountPageDeps, change: 'rename' | 'remove', body: Record<string, unknown>, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const passkeys = passkeysOf(deps)
  const session = await signedInForm(deps, body, request)
  if (session === undefined) return await backToPage(deps.ctx, reply)
  const credentialId = passkeyField(body.credential_id, 'credential_id', 1400)
  const done = change === 'rename'
    ? await passkeys.rename(session.accountId, credentialId, passkeyField(body.name, 'name', 64))
    : await passkeys.remove(session.accountId, credentialId)
  if (!done) throw new OAuthError('invalid_request', 'this passkey is not one of yours, or it was removed already', { statusCode: 404 })
  return await backToPage(deps.ctx, reply, change === 'rename' ? 'passkey_renamed' : 'passkey_removed')
}

function passkeysOf (deps: AccountPageDeps): AccountPasskeys {
  if (deps.passkeys === undefined) throw new OAuthError('invalid_request', 'passkeys are not enabled', { statusCode: 404 })
  return deps.passkeys
}

/** The form's session, when the browser is signed in and the CSRF token is this session's. */
async function signedInForm (deps: BrowserDeps, body: Record<string, unknown>, request: FastifyRequest): Promise<SessionRecord | undefined> {
  const session = await browserSession(deps, request)
  if (session === undefined) return undefined
  const token = body.csrf_token
  if (typeof token !== 'string' || token.length > 128 || !safeEqual(token, accountCsrfToken(deps.ctx, session.sessionId))) {
    throw new OAuthError('access_denied', 'this form has expired or was not sent by the account page; reload the page and try again', { statusCode: 403 })
  }
  return session
}

/** Post/Redirect/Get back to the page, with the notice to show. */
async function backToPage (ctx: ProviderContext, reply: FastifyReply, done?: keyof typeof notices): Promise<FastifyReply> {
  reply.header('cache-control', 'no-store')
  return reply.redirect(`${ctx.basePath}${accountRoutes.page}${done === undefined ? '' : `?done=${done}`}`, 303)
}

function stringField (value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '' || value.length > 256) throw new OAuthError('invalid_request', `${name} is missing or malformed`)
  return value
}

/** The name the page greets: email, then username, then name, else the account id. */
async function accountName (ctx: ProviderContext, accountId: string): Promise<string> {
  const claims = await ctx.users.claims(accountId, new Set(['openid', 'profile', 'email']))
  for (const value of [claims?.email, claims?.preferred_username, claims?.name]) {
    if (typeof value === 'string' && value !== '') return value
  }
  return accountId
}

type DateFormat = (epochSeconds: number) => string

/** Dates in the page's language, in UTC (the server does not know the browser's zone). */
function dateFormat (locale: string): DateFormat {
  let format: Intl.DateTimeFormat
  try {
    format = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' })
  } catch {
    format = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' })
  }
  return (epochSeconds) => `${format.format(new Date(epochSeconds * 1000))} UTC`
}

/** A logo shown only from an http(s) URL, whose origin goes into the page's `img-src`. */
function logoOf (uri: string | undefined): { logoUri: string, logoOrigin: string } | undefined {
  if (uri === undefined) return undefined
  try {
    const url = new URL(uri)
    return url.protocol === 'https:' || url.protocol === 'http:' ? { logoUri: url.href, logoOrigin: url.origin } : undefined
  } catch {
    return undefined
  }
}

function appView (app: ConnectedApp, when: DateFormat, describe: (scope: string) => { name: string, description: string }): Record<string, unknown> & { logoOrigin?: string } {
  return {
    grantId: app.grantId,
    clientId: app.clientId,
    name: app.clientName ?? app.clientId,
    ...logoOf(app.logoUri),
    scopes: app.scopes.map(describe),
    resources: app.resources,
    created: when(app.createdAt),
    lastUsed: when(app.lastUsedAt),
    offlineAccess: app.offlineAccess,
  }
}

function sessionView (entry: AccountSession, when: DateFormat): Record<string, unknown> {
  return {
    sid: entry.sid,
    device: entry.device,
    created: when(entry.createdAt),
    lastSeen: when(entry.lastSeenAt),
    current: entry.current,
  }
}
