import type { ProviderContext } from './context.js'
import type { SecurityEventName, SecurityEvents } from './events.js'
import type { EndpointUrls } from './urls.js'
import type { PublicJwk } from './adapters/keys/types.js'

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
  /** Subscribes to security events (logins, lockouts, replays, revocations, registrations). */
  on<Name extends SecurityEventName> (name: Name, listener: (event: SecurityEvents[Name]) => void): void
  off<Name extends SecurityEventName> (name: Name, listener: (event: SecurityEvents[Name]) => void): void
}

export function createHostApi (ctx: ProviderContext): OidcHostApi {
  return {
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
    async endAccountSessions (accountId) {
      const count = await ctx.store.deleteAccountSessions(accountId)
      ctx.audit('sessions.ended', { accountId, count })
      return count
    },
    on (name, listener) { ctx.events.on(name, listener) },
    off (name, listener) { ctx.events.off(name, listener) },
  }
}
