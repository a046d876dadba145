import { EventEmitter } from 'node:events'

/**
 * Why a session ended: the user logged out, host code ended it (`app.oidc.endAccountSessions`),
 * or a new login in the same browser replaced it (every login starts a new session), or the
 * user ended it on the account page, or a login past `maxSessionsPerAccount` ended the
 * account's oldest session (`limit`).
 */
export type SessionEndReason = 'logout' | 'host' | 'replaced' | 'account' | 'limit'

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
  /** A client created through administration (`app.oidc.clients`, `oidcAdmin`). */
  'client.created': { clientId: string }
  /** A client secret rotated through administration; the old one works `overlapSeconds` more. */
  'client.secret_rotated': { clientId: string, overlapSeconds: number }
  /**
   * A call to the `oidcAdmin` plugin: who (`subject`, the admin token's `sub`, or its `client_id`
   * when it has no user), what (`method`, `route`), the client concerned and the answer's status.
   */
  'admin.call': { subject?: string, method: string, route: string, clientId?: string, statusCode: number }
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

/** Whether the action an audit record reports succeeded or was refused/failed. */
export type AuditOutcome = 'success' | 'failure'

/**
 * One security event as an audit record (`app.oidc.onAudit`): what (`event`), when (`time`,
 * RFC 3339), who (`accountId`, or `detail.username` for a failed login), which client, from where
 * (`ip`), and the `outcome`; `detail` is the event itself. Never a token, code, secret or
 * password: events carry ids only. One JSON line each is a complete audit log.
 */
export interface AuditRecord<Name extends SecurityEventName = SecurityEventName> {
  time: string
  event: Name
  outcome: AuditOutcome
  accountId?: string
  clientId?: string
  ip?: string
  detail: SecurityEvents[Name]
}

/**
 * Each event's outcome: success, failure, or read off the event. A table the compiler checks
 * complete, so a new event cannot be added without deciding it.
 */
const outcomes: { [Name in SecurityEventName]: AuditOutcome | ((event: SecurityEvents[Name]) => AuditOutcome) } = {
  'login.success': 'success',
  'login.failure': 'failure',
  'login.locked': 'failure',
  'consent.granted': 'success',
  'consent.denied': 'failure',
  'token.issued': 'success',
  'code.replayed': 'failure',
  'refresh_token.reused': 'failure',
  'refresh_token.retried': 'success',
  'client_auth.failure': 'failure',
  'token.revoked': 'success',
  'grant.revoked': 'success',
  'sessions.ended': 'success',
  'client.registered': 'success',
  'client.updated': 'success',
  'client.deleted': 'success',
  'client.created': 'success',
  'client.secret_rotated': 'success',
  'admin.call': (event) => event.statusCode < 400 ? 'success' : 'failure',
  'session.ended': 'success',
  'backchannel_logout.failed': 'failure',
  'backchannel_logout.delivered': 'success',
  'jwks_uri.fetched': (event) => event.outcome === 'ok' ? 'success' : 'failure',
  'client_metadata.fetched': (event) => event.outcome === 'error' ? 'failure' : 'success',
  'client_metadata.failed': 'failure',
  'form.cross_site': 'failure',
  'passkey.registered': 'success',
  'passkey.removed': 'success',
  'passkey.failure': 'failure',
  'token.exchanged': 'success',
  'device.requested': 'success',
  'device.approved': 'success',
  'device.denied': 'failure',
  'device.expired': 'failure',
  'device.user_code_failure': 'failure',
}

/** Builds the audit record of an event (`time` is now). */
export function auditRecord<Name extends SecurityEventName> (name: Name, event: SecurityEvents[Name]): AuditRecord<Name> {
  const outcome = outcomes[name] as AuditOutcome | ((event: SecurityEvents[Name]) => AuditOutcome)
  const fields = event as { accountId?: unknown, clientId?: unknown, ip?: unknown }
  return {
    time: new Date().toISOString(),
    event: name,
    outcome: typeof outcome === 'function' ? outcome(event) : outcome,
    ...(typeof fields.accountId === 'string' ? { accountId: fields.accountId } : {}),
    ...(typeof fields.clientId === 'string' ? { clientId: fields.clientId } : {}),
    ...(typeof fields.ip === 'string' ? { ip: fields.ip } : {}),
    detail: event,
  }
}

/** A typed emitter: `on('login.failure', (event) => ...)` knows the event's shape. */
export class SecurityEventEmitter {
  readonly #emitter = new EventEmitter()
  readonly #auditListeners = new Set<(record: AuditRecord) => void>()

  /** Every event, as an audit record. Records are only built while someone listens. */
  onAudit (listener: (record: AuditRecord) => void): this {
    this.#auditListeners.add(listener)
    return this
  }

  offAudit (listener: (record: AuditRecord) => void): this {
    this.#auditListeners.delete(listener)
    return this
  }

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
    if (this.#auditListeners.size === 0) return
    const record = auditRecord(name, event)
    for (const listener of this.#auditListeners) {
      try {
        listener(record)
      } catch (error) {
        log.error({ err: error, event: name }, 'fastify-oidc-provider: an audit listener threw')
      }
    }
  }
}
