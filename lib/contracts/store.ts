/**
 * The store contract: the only stateful part of the provider.
 *
 * It is split by concern (as fosite's storage interfaces are) so each method is one intention
 * that a Redis implementation can make one atomic operation. `Store` is their intersection.
 *
 * Rules every implementation follows (the contract suite in `test/adapters/store/contract.ts` checks them):
 * - Secrets are never handed to the store: codes, refresh tokens, client secrets and
 *   registration tokens arrive as SHA-256 hashes (base64url) computed by the provider.
 * - Every record carries `expiresAt` (seconds since the epoch) and is gone after it; only
 *   clients live until deleted.
 * - Single-use records (`consumeCode`, `consumeRefreshToken`, `consumeInteraction`) have exactly
 *   one winner under any concurrency; the losers learn the record was already consumed.
 * - Revoking a grant invalidates everything issued under it in O(1): codes, refresh tokens and
 *   access tokens are only valid while their grant exists, so deleting the grant is enough.
 * - A backend that cannot answer throws `StoreUnavailableError`; nothing is silently dropped.
 * - Nobody changes the store through a value it returned or was given: a store returns copies,
 *   or (clients, read on every request) the stored record deeply frozen; callers never write
 *   to a returned record.
 */

/** Seconds since the epoch, as in JWT `exp`. */
export type EpochSeconds = number

export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none' | 'private_key_jwt'
/** `implicit` (OIDC Registration §2) goes with the front-channel `id_token` response types; it has no token endpoint grant. */
export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials' | 'implicit' | typeof deviceCodeGrantType |
  /** RFC 8693 §2.1 */ 'urn:ietf:params:oauth:grant-type:token-exchange' |
  /** RFC 7523 §2.1 */ 'urn:ietf:params:oauth:grant-type:jwt-bearer'

/** RFC 8628 §3.4: the device authorization grant's `grant_type`. */
export const deviceCodeGrantType = 'urn:ietf:params:oauth:grant-type:device_code' as const
export type ApplicationType = 'web' | 'native'

/** A registered client (RFC 7591 metadata plus what the provider keeps about it). */
export interface ClientRecord {
  client_id: string
  /** SHA-256 (base64url) of the client secret; absent for public clients. */
  client_secret_hash?: string
  token_endpoint_auth_method: TokenEndpointAuthMethod
  redirect_uris: string[]
  grant_types: GrantType[]
  response_types: string[]
  /** Space-separated scopes the client may request. */
  scope: string
  application_type: ApplicationType
  client_name?: string
  client_uri?: string
  logo_uri?: string
  policy_uri?: string
  tos_uri?: string
  contacts?: string[]
  /** Skips the consent page; only static clients configured by the host can have it. */
  first_party?: boolean
  /** OIDC Registration §2: the ID token signing `alg` the client registered (one we support). */
  id_token_signed_response_alg?: string
  /** The host's PKCE policy for this client (contracts/clients.ts `PkcePolicy`); absent means `required` (lib/tokens/pkce.ts). */
  pkce?: 'required' | 'nonce-allowed' | 'optional'
  /**
   * A rotated-out secret's SHA-256 and the end of its overlap (issue 30): client authentication
   * accepts it until `previous_client_secret_expires_at`, so a fleet can switch without downtime.
   */
  previous_client_secret_hash?: string
  previous_client_secret_expires_at?: EpochSeconds
  /** SHA-256 (base64url) of the RFC 7592 registration access token. */
  registration_access_token_hash?: string
  client_id_issued_at: EpochSeconds
  /** RP-Initiated Logout 1.0 §3.1: where the user may be sent after logout (exact match). */
  post_logout_redirect_uris?: string[]
  /** Back-Channel Logout 1.0 §2.2: where Logout Tokens are POSTed. */
  backchannel_logout_uri?: string
  /** Back-Channel Logout 1.0 §2.2: the Logout Token must carry `sid`. */
  backchannel_logout_session_required?: boolean
  /** RFC 7591 §2: the client's public keys inline (for `private_key_jwt`), never private members. */
  jwks?: ClientJwks
  /** RFC 7591 §2: where the client publishes its public keys (for `private_key_jwt`). */
  jwks_uri?: string
  /** OpenID Connect Registration §2: the only `alg` accepted for its client assertions. */
  token_endpoint_auth_signing_alg?: string
  /** RFC 9449 §5.2: every access token of this client must be DPoP-bound. */
  dpop_bound_access_tokens?: boolean
  /** RFC 9126 §6: this client must push its authorization requests (PAR). */
  require_pushed_authorization_requests?: boolean
  /** OIDC Registration §2: the only `alg` accepted for its request objects (OIDC Core §6.1). */
  request_object_signing_alg?: string
  /** RFC 9101 §10.5: every authorization request of this client must be a signed request object. */
  require_signed_request_object?: boolean
}

/** A JWK Set (RFC 7517 §5) of public keys. */
export interface ClientJwks {
  keys: Array<Record<string, unknown>>
}

/** Client lookups and registration (RFC 7591 / RFC 7592). */
export interface ClientStore {
  getClient (clientId: string): Promise<ClientRecord | undefined>
  /** Creates or replaces the client. */
  saveClient (client: ClientRecord): Promise<void>
  /** Deletes the client; returns whether it existed. Its grants are revoked by the caller. */
  deleteClient (clientId: string): Promise<boolean>
  /**
   * Replaces the client only while it exists (RFC 7592 §2.2 update); returns false, writing
   * nothing, when it does not. One atomic step, so an update racing a delete never brings the
   * deleted client back.
   */
  updateClientIfExists (client: ClientRecord): Promise<boolean>
  /**
   * One page of the stored clients ordered by `client_id` (administration), after the previous
   * page's `next`. Reads a client index, never a keyspace scan; `next` is absent on the last
   * page. One SQL statement (`client_id > after ORDER BY client_id LIMIT`); a consistent read.
   */
  listClients (page: ClientPage): Promise<ClientsPage>
}

export interface ClientPage {
  after?: string
  limit: number
}

export interface ClientsPage {
  clients: ClientRecord[]
  next?: string
}

/** Everything an authorization code is bound to (RFC 6749 §4.1.2, RFC 7636 §4.4). */
export interface AuthorizationCodeRecord {
  clientId: string
  grantId: string
  accountId: string
  redirectUri: string
  /** Absent only for a confidential client allowed to rely on a nonce (RFC 9700 §2.1.1). */
  codeChallenge?: string
  codeChallengeMethod?: 'S256'
  /** Granted scopes, space-separated. */
  scope: string
  nonce?: string
  authTime: EpochSeconds
  sessionId?: string
  /** The session's `sid` (Back-Channel Logout §2.1), put in the ID token. */
  sid?: string
  expiresAt: EpochSeconds
  /** RFC 8707: the normalised resources of the authorization request, when it named any. */
  resources?: string[]
  /** OIDC Core §2: how the user authenticated (issue 14), for the ID token. */
  acr?: string
  amr?: string[]
  /** OIDC Core §5.5: the `claims` request parameter (JSON), for the ID token. */
  claims?: string
  /** RFC 9449 §10: the DPoP key thumbprint the code is bound to (`dpop_jkt`). */
  dpopJkt?: string
}

/** Result of an atomic single-use consume. */
export type ConsumeResult<T> =
  | { status: 'consumed', record: T }
  /** Someone consumed it before: a replay. The grant it belonged to is given for revocation. */
  | { status: 'already_consumed', grantId: string | undefined }
  | { status: 'not_found' }

/** Authorization codes, keyed by the SHA-256 of the code. */
export interface CodeStore {
  saveCode (codeHash: string, record: AuthorizationCodeRecord): Promise<void>
  /**
   * Optional (issue 32): `markUsed(usedKey, usedUntil)` and, only when that mark is fresh,
   * `saveCode`, in one step (the nonce replay check that goes with every code for a nonce).
   * Returns false, saving nothing, when `usedKey` was already marked. A store without it is
   * called with `markUsed` and `saveCode` side by side.
   */
  saveCodeOnce? (codeHash: string, record: AuthorizationCodeRecord, usedKey: string, usedUntil: EpochSeconds): Promise<boolean>
  /**
   * Atomically takes the code. A consumed code stays as a tombstone until its `expiresAt` so a
   * replay is told apart from an unknown code (RFC 6749 §4.1.2: revoke what the first use issued).
   */
  consumeCode (codeHash: string): Promise<CodeConsumeResult>
}

/**
 * `consumeCode`'s result. On success a store may add the code's grant as it stood at the
 * consume, read in the same step (`null`: gone or expired), so the token endpoint makes one
 * round trip instead of two (issue 32); without `grant` the provider reads it (`getGrant`).
 */
export type CodeConsumeResult = ConsumeResult<AuthorizationCodeRecord> & { grant?: GrantRecord | null }

/** A refresh token; one family per grant (OAuth 2.0 Security BCP, RFC 9700 §4.14.2). */
export interface RefreshTokenRecord {
  clientId: string
  grantId: string
  accountId: string
  scope: string
  authTime: EpochSeconds
  sessionId?: string
  /** The session's `sid`, so ID tokens from a refresh carry it too. */
  sid?: string
  issuedAt: EpochSeconds
  expiresAt: EpochSeconds
  /** The family's absolute end: rotation never extends a family past it. */
  familyExpiresAt: EpochSeconds
  /** RFC 8707: the resources granted at the authorization request; a refresh narrows to one. */
  resources?: string[]
  /** RFC 9449 §5: a public client's refresh token is bound to its DPoP key (thumbprint). */
  jkt?: string
}

/** What the store knows of a refresh token (pre-family records): still usable, or already used once. */
export type RefreshTokenState =
  | { status: 'active', record: RefreshTokenRecord }
  | { status: 'consumed', record: RefreshTokenRecord }

/**
 * Refresh tokens, keyed by the SHA-256 of the token: the tokens issued before token families
 * (the provider now issues family tokens, `RefreshFamilyStore`, and reads these only to honour
 * a token issued before an upgrade once).
 */
export interface RefreshTokenStore {
  saveRefreshToken (tokenHash: string, record: RefreshTokenRecord): Promise<void>
  /** Reads without consuming (introspection, and validation before a rotation). */
  findRefreshToken (tokenHash: string): Promise<RefreshTokenState | undefined>
  /**
   * Atomically consumes the token and, when it was active, stores its replacement in the same
   * step, so a rotation is never half-done. A consumed token stays as a tombstone until its
   * `expiresAt` so that reuse can be detected.
   */
  consumeRefreshToken (
    tokenHash: string,
    replacement?: { tokenHash: string, record: RefreshTokenRecord },
  ): Promise<ConsumeResult<RefreshTokenRecord>>
}

/** A user's consent to a client: the parent of every code and token issued under it. */
export interface GrantRecord {
  grantId: string
  accountId: string
  clientId: string
  /** Consented scopes, space-separated. */
  scope: string
  createdAt: EpochSeconds
  expiresAt: EpochSeconds
}

/** Grants: a user's consent to a client, the parent of every code and token issued under it. */
export interface GrantStore {
  /** Creates or replaces the grant, and indexes it by account and by client. */
  saveGrant (grant: GrantRecord): Promise<void>
  getGrant (grantId: string): Promise<GrantRecord | undefined>
  /** The live grant of this account to this client, if any. */
  findGrant (accountId: string, clientId: string): Promise<GrantRecord | undefined>
  /** Deletes the grant: its codes, refresh tokens and access tokens stop working. */
  revokeGrant (grantId: string): Promise<boolean>
  /** Revokes every grant of an account (password change, account deletion). Returns the count. */
  revokeAccountGrants (accountId: string): Promise<number>
  /**
   * Revokes every grant given to a client (client deleted or compromised), and every refresh
   * family the client holds under another client's grant (one a token exchange started, RFC
   * 8693: `exchange` set), which no grant of its own would take along. Returns the count of grants.
   */
  revokeClientGrants (clientId: string): Promise<number>
  /**
   * Moves the grant's end to `expiresAt` while the grant exists, so a refresh family that is
   * still in use is not cut off by the consent's first expiry. Never shortens a grant and never
   * brings a revoked or expired one back: returns false, writing nothing, when it is gone; true
   * when the grant is live (its end is then at least `expiresAt`).
   */
  extendGrant (grantId: string, expiresAt: EpochSeconds): Promise<boolean>
  /**
   * One page of an account's live grants with their live refresh families (connected apps),
   * ordered by `grantId`; `after` is the previous page's `next`. Reads the account's own index
   * (never every grant). A page may hold fewer than `limit` grants while `next` is set (entries
   * of grants that ended meanwhile are skipped); `next` is absent on the last page. One SQL
   * statement (grants of the account joined with their live families, `grant_id > after`,
   * `LIMIT`); nothing in it needs to be atomic beyond a consistent read.
   */
  listAccountGrants (accountId: string, page: GrantPage): Promise<AccountGrantsPage>
}

/** Where a page of grants starts and how long it is. */
export interface GrantPage {
  /** The `next` of the previous page; absent for the first page. */
  after?: string
  /** At most this many grants (the provider asks for 1 to 100). */
  limit: number
}

/** A live refresh family as the connected-apps list shows it (no token hashes). */
export interface GrantFamilyActivity {
  familyId: string
  scope: string
  offline: boolean
  /** The login session it was issued in (a bearer secret: never shown to anyone). */
  sessionId?: string
  /** The session's public id (Back-Channel Logout 1.0 §2.1). */
  sid?: string
  resources?: string[]
  createdAt: EpochSeconds
  /** The family's last rotation, or its start when it never rotated. */
  lastUsedAt: EpochSeconds
}

/** A live grant with its live families. */
export interface GrantActivity extends GrantRecord {
  families: GrantFamilyActivity[]
}

export interface AccountGrantsPage {
  grants: GrantActivity[]
  /** Pass as `after` for the next page; absent on the last one. */
  next?: string
}

/** Access tokens are self-contained JWTs; the store only keeps the deny-list of their `jti`. */
export interface AccessTokenStore {
  /** Puts the `jti` on the deny-list until the token would have expired. */
  revokeAccessToken (jti: string, expiresAt: EpochSeconds): Promise<void>
  /**
   * Whether the token is dead: its `jti` is on the deny-list, or it was issued under a grant
   * that no longer exists, or (when `familyId` is given) under a refresh family that was
   * revoked. One call, so the common check is one round trip.
   */
  isAccessTokenRevoked (jti: string, grantId: string | undefined, familyId?: string): Promise<boolean>
}

/** A browser's login session (the signed cookie carries only `sessionId`). */
export interface SessionRecord {
  sessionId: string
  accountId: string
  authTime: EpochSeconds
  expiresAt: EpochSeconds
  /**
   * The session's public id (OIDC Back-Channel Logout 1.0 §2.1 `sid`), put in ID tokens and
   * Logout Tokens. Random and distinct from `sessionId`, which is a bearer secret (the cookie).
   * Absent only on sessions saved before it existed.
   */
  sid?: string
  /**
   * The clients this session signed into (`addSessionClient`), as returned by `takeSession` and
   * `takeAccountSessions` (always) and by `getSession` (when any were recorded; a store may
   * leave it out, the provider then records the client again); not kept up to date by `saveSession`.
   */
  clients?: string[]
  /** OIDC Core §2: the login's authentication context and methods, kept for SSO ID tokens. */
  acr?: string
  amr?: string[]
  /**
   * A short summary of the browser that signed in ("Firefox on Linux"), from its User-Agent when
   * the session started, for the account page. Plain text: escape it when you render it.
   */
  device?: string
  /** When the browser last used the session (`touchSession`, at most every few minutes). */
  lastSeenAt?: EpochSeconds
}

/** Login sessions (the SSO cookie's server side) and the clients each one signed into. */
export interface SessionStore {
  saveSession (session: SessionRecord): Promise<void>
  /**
   * The session, with the `clients` recorded so far when there are any (read in the same step,
   * so an SSO authorization for a client the session already signed into writes nothing more).
   */
  getSession (sessionId: string): Promise<SessionRecord | undefined>
  /**
   * Optional (issue 32): `getSession(sessionId)` and, for its user, `findGrant(accountId,
   * clientId)` in one step (an SSO authorization reads both). Undefined when there is no session.
   * A store without it is read with the two one after the other.
   */
  getSessionWithGrant? (sessionId: string, clientId: string): Promise<{ session: SessionRecord, grant: GrantRecord | undefined } | undefined>
  /**
   * Optional (issue 32): `getClient(clientId)` and `getSessionWithGrant(sessionId, clientId)` in
   * one step: an SSO authorization by a signed-in browser reads the client, then its session and
   * grant (one round trip instead of two). Read-only; `session` is undefined when there is no
   * session. A store without it is read with the two one after the other.
   */
  getClientWithSession? (clientId: string, sessionId: string): Promise<{ client: ClientRecord | undefined, session: { session: SessionRecord, grant: GrantRecord | undefined } | undefined }>
  deleteSession (sessionId: string): Promise<void>
  /**
   * Ends every login session of an account (password change, "log out everywhere"), so no
   * browser keeps signing the user in silently, and with each session its refresh families
   * without `offline_access` (as `revokeSessionFamilies`). Returns how many sessions were ended.
   */
  deleteAccountSessions (accountId: string): Promise<number>
  /**
   * Records that the session signed the user into `clientId` (called when a code is issued), for
   * back-channel logout. Atomic (concurrent calls all count); false when the session is gone.
   */
  addSessionClient (sessionId: string, clientId: string): Promise<boolean>
  /**
   * Ends the session and hands it back with its `clients`, atomically: of concurrent callers
   * exactly one gets the record (so one logout sends one round of Logout Tokens).
   */
  takeSession (sessionId: string): Promise<SessionRecord | undefined>
  /** Ends every session of the account and hands them back with their `clients`. */
  takeAccountSessions (accountId: string): Promise<SessionRecord[]>
  /**
   * The account's live sessions (the account page, and every login: `maxSessionsPerAccount`),
   * from the account's own session index: never a scan of every session, never another
   * account's, never an expired or ended one (a store with an index of its own drops those from
   * it as it reads, so the index stays as small as the live list). Order unspecified; `clients`
   * may be left out.
   */
  listAccountSessions (accountId: string): Promise<SessionRecord[]>
  /**
   * Records that the browser used the session at `lastSeenAt`. Never brings an ended session
   * back (false then) and leaves its expiry alone. Called at most every few minutes per session,
   * so the SSO path does not write on every request.
   */
  touchSession (sessionId: string, lastSeenAt: EpochSeconds): Promise<boolean>
}

/** A pending authorization request between `/authorize` and the code (login, consent). */
export interface InteractionRecord {
  interactionId: string
  clientId: string
  /** The validated authorization request parameters. */
  params: Record<string, string>
  /** CSRF token for the login and consent forms, bound to this interaction. */
  csrfToken: string
  /** The browser that started the request (its signed cookie must come back with the forms). */
  browserId?: string
  /** Set once the user has logged in (or had a session) for this interaction. */
  accountId?: string
  sessionId?: string
  /** The session's `sid` once known (see `SessionRecord.sid`). */
  sid?: string
  authTime?: EpochSeconds
  expiresAt: EpochSeconds
  /**
   * What the interaction asks of the user (issue 14): sign in, consent, or confirm a logout.
   * Absent in records from before: login or consent, or logout when `params.kind` says so.
   */
  prompt?: 'login' | 'consent' | 'logout'
  /** The login's authentication context and methods, carried to the consent step. */
  acr?: string
  amr?: string[]
}

/** Pending login, consent and logout interactions, each finished at most once. */
export interface InteractionStore {
  saveInteraction (interaction: InteractionRecord): Promise<void>
  getInteraction (interactionId: string): Promise<InteractionRecord | undefined>
  /** Atomically takes the interaction, so one consent cannot be submitted twice. */
  consumeInteraction (interactionId: string): Promise<InteractionRecord | undefined>
}

/** One-time values (nonces) and counters for brute-force limits. */
export interface ReplayStore {
  /**
   * Records `key` until `expiresAt`; returns false when it was already recorded (a replay).
   * Atomic: of concurrent callers with the same key exactly one gets true.
   */
  markUsed (key: string, expiresAt: EpochSeconds): Promise<boolean>
  /** Adds one to a fixed-window counter and returns the new count and when the window ends. */
  incrementCounter (key: string, windowSeconds: number): Promise<{ count: number, resetAt: EpochSeconds }>
  /** Reads a counter without changing it. */
  getCounter (key: string): Promise<{ count: number, resetAt: EpochSeconds } | undefined>
  /**
   * Optional: reads several counters in one step (client authentication reads two on every
   * request), in the order of `keys`. A store without it is read with `getCounter` per key.
   */
  getCounters? (keys: readonly string[]): Promise<Array<{ count: number, resetAt: EpochSeconds } | undefined>>
  /**
   * Optional (issue 32): `getClient(clientId)` and `getCounters(keys)` in one step: client
   * authentication reads the client and its failure counters on every request. `keys` is never
   * empty. A store without it is read with the two separately.
   */
  getClientWithCounters? (clientId: string, keys: readonly string[]): Promise<{ client: ClientRecord | undefined, counters: Array<{ count: number, resetAt: EpochSeconds } | undefined> }>
  resetCounter (key: string): Promise<void>
}

/** An `act` claim (RFC 8693 §4.1): the acting party, with the earlier actors nested. */
export interface ActorClaim {
  sub: string
  iss?: string
  act?: ActorClaim
}

/**
 * A token family (RFC 9700 §4.14.2): everything descending from one authorization code, its
 * refresh tokens and the access tokens issued with them. It lives beside its grant (same hash
 * tag), so "grant alive and family alive" is one lookup, and revoking it is one write that
 * leaves the grant (the remembered consent) and the user's other families alone.
 */
export interface RefreshFamilyRecord {
  familyId: string
  grantId: string
  clientId: string
  accountId: string
  /** Granted scopes, space-separated: a refresh may ask for a subset (RFC 6749 §6). */
  scope: string
  authTime: EpochSeconds
  /** The login session the family was issued in, if any. */
  sessionId?: string
  /**
   * Whether `offline_access` was granted. An offline family outlives its login session; the
   * others end with it (`revokeSessionFamilies`).
   */
  offline: boolean
  /** RFC 8707 resources granted at the authorization request; a refresh narrows to one of them. */
  resources?: string[]
  /** The session's public id (`sid` in ID tokens, Back-Channel Logout 1.0 §2.1). */
  sid?: string
  /**
   * The original authentication's `acr` and `amr`: an ID token issued at refresh follows the
   * rules of the original one (OpenID Connect Core §12.2), so it states the same context.
   */
  acr?: string
  amr?: string[]
  /** RFC 9449 §5: a public client's family is bound to this DPoP key thumbprint. */
  jkt?: string
  /**
   * A family a token exchange started (RFC 8693, when the host's policy granted a refresh
   * token): its refreshes issue an access token only (no ID token), with this `act` (absent:
   * impersonation).
   */
  exchange?: { act?: ActorClaim }
  createdAt: EpochSeconds
  /** The family's absolute end: no token of it lives longer. */
  expiresAt: EpochSeconds
}

/** A refresh token of a family as the store keeps it: only its hash and lifetime. */
export interface FamilyTokenRecord {
  tokenHash: string
  issuedAt: EpochSeconds
  expiresAt: EpochSeconds
}

/** What the provider asks of `rotateRefreshToken`. Hashes only, never token values. */
export interface RefreshRotation {
  grantId: string
  familyId: string
  /** SHA-256 of the presented refresh token. */
  tokenHash: string
  /** The authenticated client: another client's token is refused before anything changes. */
  clientId: string
  /**
   * The request's `scope` parameter, normalized by the provider (distinct values, sorted), or
   * undefined when absent. Every value must be in the family's scope, else `invalid_scope`.
   * Recorded with the rotation so a retry can be compared with the first request.
   */
  scope?: string
  /** How long after a rotation the rotated token may be retried (0 = never). */
  graceSeconds: number
  successor: {
    tokenHash: string
    /** Lifetime of the successor; the store caps it at the family's end. */
    lifetimeSeconds: number
    /**
     * The successor sealed so that only the holder of the presented token can open it (the
     * provider encrypts it under a key derived from the presented token). Kept with the
     * rotation and handed back on a retry; the store never sees the successor itself.
     */
    sealed: string
  }
}

/** The outcome of `rotateRefreshToken`: the whole refresh decision, taken in one atomic step. */
export type RotationResult =
  /** The presented token was the family's current one: it is rotated, the successor is stored. */
  | { status: 'rotated', family: RefreshFamilyRecord, successor: FamilyTokenRecord, grantExpiresAt: EpochSeconds }
  /**
   * The presented token was rotated less than `graceSeconds` ago and its successor is unused:
   * nothing changes, and the first rotation's sealed successor and request scope come back.
   */
  | { status: 'retried', family: RefreshFamilyRecord, sealed: string, scope: string | undefined }
  /** A rotated token presented again outside the grace rule: the family is now revoked. */
  | { status: 'reused', family: RefreshFamilyRecord }
  /** The token belongs to another client: nothing changed. */
  | { status: 'wrong_client' }
  /** A requested scope value was not granted to the family: nothing changed. */
  | { status: 'invalid_scope', scope: string }
  /** Unknown, expired, or its family or grant is gone. */
  | { status: 'not_found' }

/** Refresh-token families: start, rotate (with the grace window), read, revoke. */
export interface RefreshFamilyStore {
  /**
   * Starts a family with its first refresh token (none when the client may not refresh: the
   * family still anchors the access tokens). Never overwrites: returns false when the family
   * already exists or was revoked before it started (a code replay that raced the first
   * redemption), and then writes nothing. Non-offline families with a `sessionId` and a first
   * refresh token are indexed by session for `revokeSessionFamilies` (a family without refresh
   * tokens only anchors short-lived access tokens, and is not worth a write to the index).
   * A family with `exchange` (under another client's grant) is findable by its `clientId` for
   * `revokeClientGrants`.
   */
  startRefreshFamily (family: RefreshFamilyRecord, first?: FamilyTokenRecord): Promise<boolean>
  /**
   * The one atomic step of a refresh (RFC 6749 §6, RFC 9700 §4.14.2), in this order: grant and
   * family alive, token known, token of this client, scope within the family's; then the
   * current token rotates, or a rotated one is a retry within the grace window (the successor
   * unused), or it is reuse and the family is revoked. Of concurrent callers with the current
   * token exactly one rotates; the others are retries.
   */
  rotateRefreshToken (rotation: RefreshRotation): Promise<RotationResult>
  /**
   * The family's current refresh token with its family, while token, family and grant are
   * alive (introspection, revocation). A rotated token is not returned.
   */
  findFamilyRefreshToken (grantId: string, familyId: string, tokenHash: string): Promise<{ family: RefreshFamilyRecord, token: FamilyTokenRecord } | undefined>
  /**
   * Revokes the family (its refresh and access tokens), leaving its grant and the grant's other
   * families alone. A family not started yet is revoked in advance (a tombstone until
   * `tombstoneUntil`), so a racing `startRefreshFamily` cannot bring it to life. Returns whether
   * a live family was revoked.
   */
  revokeRefreshFamily (grantId: string, familyId: string, tombstoneUntil: EpochSeconds): Promise<boolean>
  /**
   * Revokes every non-offline family issued in this login session (OpenID Connect: tokens
   * without `offline_access` end with the session). Returns how many live families it revoked.
   */
  revokeSessionFamilies (sessionId: string): Promise<number>
}

/**
 * A device authorization request (RFC 8628 §3.1-3.2), keyed by the SHA-256 of its device code
 * and findable by the SHA-256 of its user code. Neither code is ever handed to the store.
 */
export interface DeviceAuthorizationRecord {
  clientId: string
  /** SHA-256 (base64url) of the normalised user code (unique among live records). */
  userCodeHash: string
  /** The validated request's parameters, as a pending interaction keeps them. */
  params: Record<string, string>
  /** RFC 8628 §3.2 `interval` at the start, in seconds; each `slow_down` adds 5. */
  interval: number
  /** RFC 8628 §3.2 `expires_in`: when the codes stop working; polls then answer `expired`. */
  codeExpiresAt: EpochSeconds
  /**
   * When the store drops the record: later than `codeExpiresAt`, so a device polling late
   * learns `expired_token` (RFC 8628 §3.5) rather than an unknown code.
   */
  expiresAt: EpochSeconds
}

/** What the user's approval binds the device code to: who, under which grant, with which scopes. */
export interface DeviceApproval {
  accountId: string
  grantId: string
  /** Granted scopes, space-separated. */
  scope: string
  authTime: EpochSeconds
  sessionId?: string
  sid?: string
  acr?: string
  amr?: string[]
}

/** Where a device authorization stands: waiting for the user, answered, or redeemed. */
export type DeviceAuthorizationStatus = 'pending' | 'approved' | 'denied' | 'consumed'

/** The answer to one poll (RFC 8628 §3.4-3.5), decided atomically by the store. */
export type DevicePollResult =
  /** Still waiting for the user; `interval` is the one in force. */
  | { status: 'pending', interval: number }
  /** Polled sooner than `interval` after the previous poll: the interval grew by 5 s. */
  | { status: 'slow_down', interval: number }
  /** Approved, and this poll redeemed it: no other poll ever will. */
  | { status: 'approved', record: DeviceAuthorizationRecord, approval: DeviceApproval }
  | { status: 'denied' }
  /** Redeemed by an earlier poll. */
  | { status: 'consumed' }
  /** Past `codeExpiresAt` (on the store's clock). */
  | { status: 'expired' }
  /** Unknown, dropped, or issued to another client (nothing changed). */
  | { status: 'not_found' }

/**
 * Device authorizations (RFC 8628). Each method is one atomic step: one Redis script on one key
 * (the user-code index is a second key, written and read beside it), one SQL statement or
 * one transaction. Times that decide (expiry, polling too fast) come from the store's clock,
 * so every instance sharing the store agrees.
 */
export interface DeviceAuthorizationStore {
  /**
   * Saves a new device authorization, status `pending`. Returns false, writing nothing that can
   * be found, when a live record already holds the same `userCodeHash` (the caller draws new
   * codes). SQL: `INSERT ... ON CONFLICT (user_code_hash) DO NOTHING`.
   */
  createDeviceAuthorization (deviceCodeHash: string, record: DeviceAuthorizationRecord): Promise<boolean>
  /**
   * The authorization a user code names, with its device code hash and status, for the
   * verification page; undefined when unknown or dropped. The caller checks `codeExpiresAt`.
   */
  findDeviceAuthorization (userCodeHash: string): Promise<{ deviceCodeHash: string, record: DeviceAuthorizationRecord, status: DeviceAuthorizationStatus } | undefined>
  /**
   * Records the user's answer: approved (bound to the grant and user) or denied. Only a
   * `pending` authorization before `codeExpiresAt` changes; returns whether this call changed it
   * (of concurrent answers exactly one wins). SQL: one `UPDATE ... WHERE status = 'pending'
   * AND code_expires_at > now()`.
   */
  decideDeviceAuthorization (deviceCodeHash: string, decision: { approved: DeviceApproval } | { denied: true }): Promise<boolean>
  /**
   * One poll of the token endpoint by `clientId`, atomically: another client's poll changes
   * nothing (`not_found`); past `codeExpiresAt` it is `expired`; an approved one is consumed
   * and returned once (of concurrent polls exactly one gets `approved`, the others `consumed`);
   * a pending one polled less than `interval` seconds after the previous poll gets
   * `slow_down` and its interval grows by 5 s for every later poll (RFC 8628 §3.5). Every poll
   * records its time. SQL: one transaction, `SELECT ... FOR UPDATE` then `UPDATE`.
   */
  pollDeviceAuthorization (deviceCodeHash: string, clientId: string): Promise<DevicePollResult>
}

/** The whole contract a storage backend implements. */
export interface Store extends
  ClientStore,
  CodeStore,
  RefreshTokenStore,
  GrantStore,
  RefreshFamilyStore,
  AccessTokenStore,
  SessionStore,
  InteractionStore,
  ReplayStore,
  DeviceAuthorizationStore {
  /** Releases timers or connections the store owns (not a host-owned Redis client). */
  close? (): Promise<void>
  /**
   * Optional: prepares the backend before the provider serves, awaited once by `register`
   * (a register that fails here fails as a whole). `PostgresStore` applies its migrations
   * here when asked to (`migrate: true`).
   */
  init? (): Promise<void>
  /**
   * Resolves once the backend answers (readiness: `app.oidc.health.ready()`), throws
   * `StoreUnavailableError` when it does not. Cheap (one round trip, no data) and side-effect
   * free. Optional, so stores written before it keep working: without it readiness makes one
   * harmless read instead (`getCounter` of a key nothing writes).
   */
  ping? (): Promise<void>
}

/**
 * Every method of `Store`, marked as the interface declares it. A runtime list cannot be read off
 * an interface (types are erased), so this one is checked by the compiler both ways: the
 * `satisfies` clause refuses a list that misses a method, names one `Store` lacks, or gets its
 * optionality wrong. The plugin checks a host's store against it.
 */
export const storeMethods = {
  getClient: 'required',
  saveClient: 'required',
  deleteClient: 'required',
  updateClientIfExists: 'required',
  listClients: 'required',
  saveCode: 'required',
  saveCodeOnce: 'optional',
  consumeCode: 'required',
  saveRefreshToken: 'required',
  findRefreshToken: 'required',
  consumeRefreshToken: 'required',
  saveGrant: 'required',
  getGrant: 'required',
  findGrant: 'required',
  revokeGrant: 'required',
  revokeAccountGrants: 'required',
  revokeClientGrants: 'required',
  extendGrant: 'required',
  listAccountGrants: 'required',
  revokeAccessToken: 'required',
  isAccessTokenRevoked: 'required',
  saveSession: 'required',
  getSession: 'required',
  getSessionWithGrant: 'optional',
  getClientWithSession: 'optional',
  deleteSession: 'required',
  deleteAccountSessions: 'required',
  addSessionClient: 'required',
  takeSession: 'required',
  takeAccountSessions: 'required',
  listAccountSessions: 'required',
  touchSession: 'required',
  saveInteraction: 'required',
  getInteraction: 'required',
  consumeInteraction: 'required',
  markUsed: 'required',
  incrementCounter: 'required',
  getCounter: 'required',
  getCounters: 'optional',
  getClientWithCounters: 'optional',
  resetCounter: 'required',
  startRefreshFamily: 'required',
  rotateRefreshToken: 'required',
  findFamilyRefreshToken: 'required',
  revokeRefreshFamily: 'required',
  revokeSessionFamilies: 'required',
  createDeviceAuthorization: 'required',
  findDeviceAuthorization: 'required',
  decideDeviceAuthorization: 'required',
  pollDeviceAuthorization: 'required',
  close: 'optional',
  init: 'optional',
  ping: 'optional',
} as const satisfies { readonly [Method in keyof Store]-?: undefined extends Store[Method] ? 'optional' : 'required' }
