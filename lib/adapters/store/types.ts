/**
 * The store contract: the only stateful part of the provider.
 *
 * It is split by concern (as fosite's storage interfaces are) so each method is one intention
 * that a Redis implementation can make one atomic operation. `Store` is their intersection.
 *
 * Rules every implementation follows (the contract suite in `test/store-contract.ts` checks them):
 * - Secrets are never handed to the store: codes, refresh tokens, client secrets and
 *   registration tokens arrive as SHA-256 hashes (base64url) computed by the provider.
 * - Every record carries `expiresAt` (seconds since the epoch) and is gone after it; only
 *   clients live until deleted.
 * - Single-use records (`consumeCode`, `consumeRefreshToken`, `consumeInteraction`) have exactly
 *   one winner under any concurrency; the losers learn the record was already consumed.
 * - Revoking a grant invalidates everything issued under it in O(1): codes, refresh tokens and
 *   access tokens are only valid while their grant exists, so deleting the grant is enough.
 * - A backend that cannot answer throws `StoreUnavailableError`; nothing is silently dropped.
 */

/** Seconds since the epoch, as in JWT `exp`. */
export type EpochSeconds = number

export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none' | 'private_key_jwt'
export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials'
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
  /** SHA-256 (base64url) of the RFC 7592 registration access token. */
  registration_access_token_hash?: string
  client_id_issued_at: EpochSeconds
  /** OpenID Connect Registration §2: the ID token's `alg` (default RS256). */
  id_token_signed_response_alg?: 'RS256' | 'PS256' | 'ES256' | 'EdDSA'
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
}

/** Everything an authorization code is bound to (RFC 6749 §4.1.2, RFC 7636 §4.4). */
export interface AuthorizationCodeRecord {
  clientId: string
  grantId: string
  accountId: string
  redirectUri: string
  codeChallenge: string
  codeChallengeMethod: 'S256'
  /** Granted scopes, space-separated. */
  scope: string
  nonce?: string
  authTime: EpochSeconds
  sessionId?: string
  expiresAt: EpochSeconds
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
   * Atomically takes the code. A consumed code stays as a tombstone until its `expiresAt` so a
   * replay is told apart from an unknown code (RFC 6749 §4.1.2: revoke what the first use issued).
   */
  consumeCode (codeHash: string): Promise<ConsumeResult<AuthorizationCodeRecord>>
}

/** A refresh token; one family per grant (OAuth 2.0 Security BCP, RFC 9700 §4.14.2). */
export interface RefreshTokenRecord {
  clientId: string
  grantId: string
  accountId: string
  scope: string
  authTime: EpochSeconds
  sessionId?: string
  issuedAt: EpochSeconds
  expiresAt: EpochSeconds
  /** The family's absolute end: rotation never extends a family past it. */
  familyExpiresAt: EpochSeconds
  /** RFC 9449 §5: a public client's refresh token is bound to its DPoP key (thumbprint). */
  jkt?: string
}

export type RefreshTokenState =
  | { status: 'active', record: RefreshTokenRecord }
  | { status: 'consumed', record: RefreshTokenRecord }

/** Refresh tokens, keyed by the SHA-256 of the token. */
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
  /** Revokes every grant given to a client (client deleted or compromised). Returns the count. */
  revokeClientGrants (clientId: string): Promise<number>
}

/** Access tokens are self-contained JWTs; the store only keeps the deny-list of their `jti`. */
export interface AccessTokenStore {
  /** Puts the `jti` on the deny-list until the token would have expired. */
  revokeAccessToken (jti: string, expiresAt: EpochSeconds): Promise<void>
  /**
   * Whether the token is dead: its `jti` is on the deny-list, or it was issued under a grant
   * that no longer exists. One call, so the common check is one round trip.
   */
  isAccessTokenRevoked (jti: string, grantId: string | undefined): Promise<boolean>
}

/** A browser's login session (the signed cookie carries only `sessionId`). */
export interface SessionRecord {
  sessionId: string
  accountId: string
  authTime: EpochSeconds
  expiresAt: EpochSeconds
}

export interface SessionStore {
  saveSession (session: SessionRecord): Promise<void>
  getSession (sessionId: string): Promise<SessionRecord | undefined>
  deleteSession (sessionId: string): Promise<void>
  /**
   * Ends every login session of an account (password change, "log out everywhere"), so no
   * browser keeps signing the user in silently. Returns how many were ended.
   */
  deleteAccountSessions (accountId: string): Promise<number>
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
  authTime?: EpochSeconds
  expiresAt: EpochSeconds
}

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
  resetCounter (key: string): Promise<void>
}

/** The whole contract a storage backend implements. */
export interface Store extends
  ClientStore,
  CodeStore,
  RefreshTokenStore,
  GrantStore,
  AccessTokenStore,
  SessionStore,
  InteractionStore,
  ReplayStore {
  /** Releases timers or connections the store owns (not a host-owned Redis client). */
  close? (): Promise<void>
}
