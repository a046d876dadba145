import { EventEmitter } from 'node:events'

/**
 * Why a session ended: the user logged out, host code ended it (`app.oidc.endAccountSessions`),
 * or a new login in the same browser replaced it (every login starts a new session).
 */
export type SessionEndReason = 'logout' | 'host' | 'replaced'

/**
 * Security-relevant events, with the ids needed to act on them and never a secret, token,
 * code or password. Each is also logged through Fastify's logger.
 */
export interface SecurityEvents {
  'login.success': { accountId: string, clientId: string, ip: string }
  'login.failure': { username: string, clientId: string, ip: string }
  'login.locked': { username: string, clientId: string, ip: string, retryAfter: number }
  'consent.granted': { accountId: string, clientId: string, scope: string }
  'consent.denied': { accountId: string, clientId: string }
  'token.issued': { clientId: string, accountId?: string, grantType: string, grantId?: string }
  /**
   * A token exchange (RFC 8693) issued a token: for whom (`accountId`, from `subjectIssuer`),
   * what (`issuedTokenType`), for which target (`audience`), and the actor when delegated.
   */
  'token.exchanged': { clientId: string, accountId: string, subjectIssuer: string, issuedTokenType: string, delegation: boolean, actor?: string, audience?: string }
  'code.replayed': { clientId: string, grantId?: string, familyId?: string }
  'refresh_token.reused': { clientId: string, grantId?: string, familyId?: string }
  /** A rotated refresh token retried within the grace window: answered with the same successor. */
  'refresh_token.retried': { clientId: string, grantId: string, familyId: string }
  'client_auth.failure': { clientId?: string, ip: string, endpoint: string }
  'token.revoked': { clientId: string, tokenType: 'access_token' | 'refresh_token', grantId?: string }
  'grant.revoked': { grantId?: string, accountId?: string, clientId?: string, reason: string }
  'sessions.ended': { accountId: string, count: number }
  'client.registered': { clientId: string, ip: string }
  'client.updated': { clientId: string }
  'client.deleted': { clientId: string }
  /** A login session ended: the user logged out, host code ended it, or a new login in the browser replaced it. */
  'session.ended': { accountId: string, sid?: string, reason: SessionEndReason, clients: number }
  /** A Logout Token could not be delivered to a client's `backchannel_logout_uri`. */
  'backchannel_logout.failed': { clientId: string, accountId: string, reason: string, detail: string }
  /** A Logout Token was delivered: the client's `backchannel_logout_uri` answered 2xx (§2.8). */
  'backchannel_logout.delivered': { clientId: string, accountId: string, status: number }
  /**
   * A client's `jwks_uri` (RFC 7591 §2) was fetched for `private_key_jwt`: `ok`, or `error`
   * (unreachable, refused, not a JWK Set). Answers from the cache raise no event.
   */
  'jwks_uri.fetched': { host: string, outcome: 'ok' | 'error' }
  /**
   * A Client ID Metadata Document lookup (for metrics): fetched and valid (`ok`), served from the
   * instance's cache (`cached`), or refused (`error`, with a `client_metadata.failed` event).
   */
  'client_metadata.fetched': { host: string, outcome: 'ok' | 'cached' | 'error' }
  /** A client_id URL could not be resolved: why (`reason`, e.g. `too_large`), and details for logs. */
  'client_metadata.failed': { clientId: string, host: string, reason: string, detail: string }
  /** RFC 8628: a device authorization started (POST /device_authorization). */
  'device.requested': { clientId: string }
  /** The user approved a device's sign-in on the verification page (or the host's consent page). */
  'device.approved': { clientId: string, accountId: string }
  /** The user denied it; the device's next poll gets `access_denied`. */
  'device.denied': { clientId: string, accountId?: string }
  /** A device polled after its code expired (`expired_token`). */
  'device.expired': { clientId: string }
  /** A wrong or unknown user code was entered; `locked` when it started (or met) a lockout. */
  'device.user_code_failure': { ip: string, locked: boolean }
  /** A browser form post refused because another site sent it (Origin or Sec-Fetch-Site). */
  /** A passkey was added to an account (WebAuthn registration ceremony verified). */
  'passkey.registered': { accountId: string, deviceType: 'singleDevice' | 'multiDevice' }
  /** A passkey was removed from an account. */
  'passkey.removed': { accountId: string }
  /** A passkey sign-in failed (counted on the login limiter per IP). */
  'passkey.failure': { reason: string, ip: string }
  'form.cross_site': { path: string, reason: 'origin' | 'sec-fetch-site', ip: string, origin?: string, secFetchSite?: string }
}

/** The name of a security event, e.g. `'login.failure'`: see `SecurityEvents` for each one's fields. */
export type SecurityEventName = keyof SecurityEvents

/** A typed emitter: `on('login.failure', (event) => ...)` knows the event's shape. */
export class SecurityEventEmitter {
  readonly #emitter = new EventEmitter()

  on<Name extends SecurityEventName> (name: Name, listener: (event: SecurityEvents[Name]) => void): this {
    this.#emitter.on(name, listener)
    return this
  }

  off<Name extends SecurityEventName> (name: Name, listener: (event: SecurityEvents[Name]) => void): this {
    this.#emitter.off(name, listener)
    return this
  }

  /** Emits without letting a throwing listener break the request that caused the event. */
  emit<Name extends SecurityEventName> (name: Name, event: SecurityEvents[Name], log: { error (obj: object, msg: string): void }): void {
    try {
      this.#emitter.emit(name, event)
    } catch (error) {
      log.error({ err: error, event: name }, 'fastify-oidc-provider: a security event listener threw')
    }
  }
}
