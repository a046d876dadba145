import type { ProviderContext } from '../contracts/context.js'
import type { AuditRecord, SecurityEventName, SecurityEvents } from '../contracts/events.js'
import type { EndpointUrls } from '../contracts/urls.js'
import type { PublicJwk } from '../contracts/keys.js'
import { endAccountSessions } from '../sessions/end.js'
import { endAccountSession, listAccountSessions, type AccountSession } from '../sessions/account-sessions.js'
import { browserSession } from '../sessions/browser.js'
import {
  listConnectedApps,
  revokeAllConnectedApps,
  revokeConnectedApp,
  type ConnectedAppsPage,
  type ConnectedAppsQuery,
} from '../sessions/connected-apps.js'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Interaction, InteractionResult, LogoutInteraction, PasswordCheck } from '../contracts/interactions.js'
import type { InteractionService } from '../interactions/service.js'
import { createClientAdmin, type ClientAdmin } from '../clients/admin.js'
import type { ProviderHealth } from './health.js'
import type { ProviderMetrics } from './metrics/index.js'
import type { PasskeyLogin, PasskeySummary } from '../contracts/passkeys.js'
import type { PasskeyCeremonies } from '../interactions/passkeys.js'
import { hostMistake } from '../contracts/errors.js'

/** The browser's options of a passkey ceremony (WebAuthn `PublicKeyCredentialCreationOptionsJSON` / `...RequestOptionsJSON`): pass them to @simplewebauthn/browser. */
export type PasskeyCeremonyOptions = Awaited<ReturnType<PasskeyCeremonies['registrationOptions']>> | Awaited<ReturnType<PasskeyCeremonies['authenticationOptions']>>

/**
 * Passkeys for a host's own pages (`app.oidc.passkeys`, with the `passkeys` option): the same
 * ceremonies our login page runs. Options go to the browser (`startRegistration` /
 * `startAuthentication` of @simplewebauthn/browser); the challenge is kept in a signed cookie
 * of that browser, so the verification must be a request from the same browser; each
 * challenge is used once.
 *
 * @example
 * app.post('/login/passkey-options', async (request, reply) => await app.oidc.passkeys.authenticationOptions(reply))
 * app.post('/login/passkey', async (request, reply) => {
 *   const login = await app.oidc.passkeys.verifyAuthentication(request, { response: request.body.response })
 *   return await app.oidc.finishInteraction(request, reply, { login })
 * })
 */
export interface OidcPasskeysApi {
  /** Options to create a passkey for a user your page has authenticated. */
  registrationOptions (reply: FastifyReply, user: { accountId: string, userName: string, displayName?: string }): Promise<PasskeyCeremonyOptions>
  /** Verifies the browser's `startRegistration` result and stores the passkey. Throws `OAuthError` (400) when it does not verify. */
  verifyRegistration (request: FastifyRequest, input: { accountId: string, response: unknown, name?: string }): Promise<PasskeySummary>
  /** Options to sign in: any passkey of this site (usernameless, autofill), or `accountId`'s. */
  authenticationOptions (reply: FastifyReply, input?: { accountId?: string }): Promise<PasskeyCeremonyOptions>
  /**
   * Verifies the browser's `startAuthentication` result: `{ accountId, amr, acr }` to finish the
   * interaction with `{ login }`. Failures throw `OAuthError` (400, 429 when locked) and count
   * on the login limiter.
   */
  verifyAuthentication (request: FastifyRequest, input: { response: unknown }): Promise<PasskeyLogin>
  /** A user's passkeys (names, dates, kind), oldest first. */
  list (accountId: string): Promise<PasskeySummary[]>
  rename (accountId: string, credentialId: string, name: string): Promise<boolean>
  remove (accountId: string, credentialId: string): Promise<boolean>
}

/**
 * What host code can do with the provider, through `app.oidc`.
 *
 * @example
 * // After a password change: log the user out of every client and every browser.
 * await app.oidc.revokeAccountGrants(userId)
 * await app.oidc.endAccountSessions(userId)
 * app.oidc.on('login.failure', (event) => metrics.increment('login_failure', event))
 */
export interface OidcHostApi {
  readonly issuer: string
  readonly urls: Readonly<EndpointUrls>
  /** The published public keys (current signer first). */
  publicKeys (): readonly PublicJwk[]
  /** Reloads keys from the key source (after `keys rotate`); the JWKS follows at once. */
  reloadKeys (): Promise<void>
  /** Revokes one grant: its codes, refresh tokens and access tokens stop working. */
  revokeGrant (grantId: string): Promise<boolean>
  /** Revokes every grant of a user, e.g. on password change. Returns how many. */
  revokeAccountGrants (accountId: string): Promise<number>
  /** Revokes every grant given to a client. Returns how many. */
  revokeClientGrants (clientId: string): Promise<number>
  /**
   * Ends every login session (SSO cookie) of a user, so no browser signs them in again without
   * a password, and the refresh-token families issued in those sessions without
   * `offline_access` (those with it survive). On a password change call this and
   * `revokeAccountGrants`.
   */
  endAccountSessions (accountId: string): Promise<number>
  /**
   * A user's connected apps (the clients they let in): list them a page at a time, revoke one
   * client's access or all of them. Revoking ends every code, token and refresh family under
   * the grant at once on every instance, and tells the client by back-channel logout when it
   * registered for it. See docs/connected-apps.md.
   */
  readonly connectedApps: ConnectedAppsApi
  /**
   * A user's login sessions (where they are signed in), named by their public `sid`: list them
   * (device, created, last seen), end one as a logout does (back-channel logout included). For
   * an account page of your own; the built-in one (`accountPage`) uses the same calls.
   */
  readonly accountSessions: AccountSessionsApi
  /**
   * Client administration: `create`, `get`, `update` (RFC 7592 §2.2 replacement), `delete`,
   * `rotateSecret(clientId, overlapSeconds)` and `list({ after, limit, search })`. A new secret is
   * in the one answer that issues it; static clients are read-only (409). Errors are
   * `OAuthError`s (`invalid_client_metadata`, 404 for an unknown client). See docs/administration.md.
   */
  readonly clients: ClientAdmin
  /** Subscribes to security events (logins, lockouts, replays, revocations, registrations). */
  on<Name extends SecurityEventName> (name: Name, listener: (event: SecurityEvents[Name]) => void): void
  off<Name extends SecurityEventName> (name: Name, listener: (event: SecurityEvents[Name]) => void): void
  /**
   * Subscribes to the audit stream: every security event as one `AuditRecord` (who, what, when,
   * client, outcome; never a token or secret). Returns the function that unsubscribes. See
   * docs/audit-events.md.
   */
  onAudit (listener: (record: AuditRecord) => void): () => void
  /**
   * The pending interaction a request belongs to (its `interaction_id` in the query, form or
   * route params, or `interactionId`), checked to come from the browser that started it and
   * not to have expired. Throws an `OAuthError` (`invalid_request`, or 403 `access_denied`).
   */
  getInteraction (request: FastifyRequest, interactionId?: string): Promise<Interaction>
  /**
   * The pending logout a request belongs to (`interactions.logoutUrl`), with the same checks
   * as `getInteraction`: who asked (`client`), where the browser goes next
   * (`postLogoutRedirectUri`), who is signed in (`account`), `logoutHint`, `uiLocales`, `locale`.
   */
  getLogoutInteraction (request: FastifyRequest, interactionId?: string): Promise<LogoutInteraction>
  /**
   * Ends the interaction with the user's login, consent or an error and answers with the
   * redirect that resumes the flow (to the consent step, or to the client with the code or
   * the error, `state` and `iss`); a pending logout ends with `{ logout: true | false }` and
   * answers with the redirect to the post-logout URI (or the signed-out page). On a POST the
   * form must carry `csrf_token` and come from the issuer's origin. Single use: a second
   * finish fails.
   */
  finishInteraction (request: FastifyRequest, reply: FastifyReply, result: InteractionResult, interactionId?: string): Promise<FastifyReply>
  /**
   * Checks a username and password with the `users` adapter, behind the login brute-force
   * limits (the same counters as our login page). `clientId` names the client in events.
   */
  checkPassword (request: FastifyRequest, username: string, password: string, clientId?: string): Promise<PasswordCheck>
  /** Liveness and readiness (readiness pings the store): `await app.oidc.health.ready()`. */
  readonly health: ProviderHealth
  /** The prom-client registry with the provider's metrics; undefined unless the `metrics` option is on. */
  readonly metrics: ProviderMetrics | undefined
  /** Passkey ceremonies for your own pages; every call throws unless the `passkeys` option is on. */
  readonly passkeys: OidcPasskeysApi
}

function passkeysApi (ceremonies: PasskeyCeremonies | undefined): OidcPasskeysApi {
  const on = (): PasskeyCeremonies => {
    if (ceremonies === undefined) throw hostMistake('app.oidc.passkeys: the `passkeys` option is off')
    return ceremonies
  }
  return {
    registrationOptions: async (reply, user) => await on().registrationOptions(reply, user),
    verifyRegistration: async (request, input) => await on().verifyRegistration(request, input),
    authenticationOptions: async (reply, input) => await on().authenticationOptions(reply, input),
    verifyAuthentication: async (request, input) => await on().verifyAuthentication(request, input),
    list: async (accountId) => await on().list(accountId),
    rename: async (accountId, credentialId, name) => await on().rename(accountId, credentialId, name),
    remove: async (accountId, credentialId) => await on().remove(accountId, credentialId),
  }
}

/** `app.oidc.connectedApps`: what a user let in, for the account page or the host's own. */
export interface ConnectedAppsApi {
  /** One page of the user's apps (`limit` 1–100, default 50; `after` is the last page's `next`). */
  list (accountId: string, query?: ConnectedAppsQuery): Promise<ConnectedAppsPage>
  /** Ends every grant of the user to `clientId`; returns how many ended. */
  revoke (accountId: string, clientId: string): Promise<number>
  /** Ends every grant of the user; returns how many ended. */
  revokeAll (accountId: string): Promise<number>
}

/** `app.oidc.accountSessions`: where a user is signed in, for the account page or the host's own. */
export interface AccountSessionsApi {
  /**
   * Who is signed in in the browser making `request` (the provider's session cookie), for a
   * host route under the issuer's path; undefined when no live session. Never the session id.
   */
  current (request: FastifyRequest): Promise<{ accountId: string, sid?: string, authTime: number } | undefined>
  /** The user's live sessions, newest first (`current` is always false here: no browser asks). */
  list (accountId: string): Promise<AccountSession[]>
  /** Ends the user's session `sid` on every instance; false when the user has no such session. */
  end (accountId: string, sid: string): Promise<boolean>
}

export function createHostApi (
  ctx: ProviderContext,
  interactions: InteractionService,
  operations: { health: ProviderHealth, metrics?: ProviderMetrics }
): OidcHostApi {
  return {
    health: operations.health,
    metrics: operations.metrics === undefined ? undefined : { registry: operations.metrics.registry },
    issuer: ctx.issuer,
    urls: Object.freeze({ ...ctx.urls }),
    publicKeys: () => ctx.keys.publicKeys,
    reloadKeys: () => ctx.keys.reload(),
    async revokeGrant (grantId) {
      const revoked = await ctx.store.revokeGrant(grantId)
      if (revoked) ctx.audit('grant.revoked', { grantId, reason: 'host' })
      return revoked
    },
    async revokeAccountGrants (accountId) {
      const count = await ctx.store.revokeAccountGrants(accountId)
      ctx.audit('grant.revoked', { accountId, reason: 'host' })
      return count
    },
    async revokeClientGrants (clientId) {
      const count = await ctx.store.revokeClientGrants(clientId)
      ctx.audit('grant.revoked', { clientId, reason: 'host' })
      return count
    },
    clients: createClientAdmin(ctx),
    connectedApps: {
      list: async (accountId, query) => await listConnectedApps(ctx, accountId, query),
      revoke: async (accountId, clientId) => await revokeConnectedApp(ctx, accountId, clientId, 'host'),
      revokeAll: async (accountId) => await revokeAllConnectedApps(ctx, accountId, 'host'),
    },
    accountSessions: {
      async current (request) {
        const session = await browserSession(interactions.deps, request)
        if (session === undefined) return undefined
        return { accountId: session.accountId, authTime: session.authTime, ...(session.sid === undefined ? {} : { sid: session.sid }) }
      },
      list: async (accountId) => await listAccountSessions(ctx, accountId),
      end: async (accountId, sid) => await endAccountSession(ctx, accountId, sid, 'host') !== undefined,
    },
    async endAccountSessions (accountId) {
      // Through the sessions module: each ended session also notifies its clients (back-channel logout).
      const count = await endAccountSessions(ctx, accountId)
      ctx.audit('sessions.ended', { accountId, count })
      return count
    },
    getInteraction: async (request, interactionId) => await interactions.get(request, interactionId),
    getLogoutInteraction: async (request, interactionId) => await interactions.getLogout(request, interactionId),
    finishInteraction: async (request, reply, result, interactionId) => await interactions.finish(request, reply, result, interactionId),
    checkPassword: async (request, username, password, clientId) => await interactions.checkPassword(request, username, password, clientId),
    passkeys: passkeysApi(interactions.passkeys),
    on (name, listener) { ctx.events.on(name, listener) },
    off (name, listener) { ctx.events.off(name, listener) },
    onAudit (listener) {
      ctx.events.onAudit(listener)
      return () => { ctx.events.offAudit(listener) }
    },
  }
}
