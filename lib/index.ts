export { oidcProvider } from './provider/plugin.js'
export type { AuthorizationResponseType, OidcProviderOptions, StaticClient } from './contracts/options.js'
export type { OidcHostApi, ConnectedAppsApi, AccountSessionsApi } from './provider/host-api.js'
export type { ClientAdmin, AdminClient, IssuedClient, ClientListQuery, ClientList } from './clients/admin.js'
export type { ConnectedApp, ConnectedAppsPage, ConnectedAppsQuery } from './sessions/connected-apps.js'
export type { AccountSession } from './sessions/account-sessions.js'
export { OAuthError, StoreUnavailableError, type OAuthErrorCode } from './contracts/errors.js'
export type { SecurityEvents, SecurityEventName, AuditRecord, AuditOutcome } from './contracts/events.js'

export { MemoryStore, type MemoryStoreOptions } from './adapters/store/memory.js'
export { RedisStore, type RedisStoreOptions } from './adapters/store/redis.js'
export { PostgresStore, type PostgresStoreOptions, type PostgresMigration, type PostgresPool, type PostgresPoolClient } from './adapters/store/postgres.js'
export type * from './contracts/store.js'

export { generatedKeys, type GeneratedKeysOptions } from './adapters/keys/generated.js'
export { fileKeys, generateKeyFile, type FileKeysOptions } from './adapters/keys/file.js'
export type { KeySource, KeySet, SigningKey, PublicJwk, SigningAlgorithm, KeySourceContext } from './contracts/keys.js'

export { staticUsers, type StaticUser } from './adapters/users/static.js'
export { hashPassword, verifyPassword } from './adapters/users/password.js'
export type { UserAdapter } from './contracts/users.js'
export type { UserClaims } from './contracts/claims.js'

export type { RegistrationPolicy, ClientMetadata } from './contracts/clients.js'

export type { ResourceServer, ResourceServerCredentials, ResourceServerQuery, FindResourceServer } from './contracts/resources.js'
export type { TrustedIssuer, FindTrustedIssuer, WorkloadRule, TokenExchangePolicy, TokenExchangeRequest, TokenExchangeDecision, ExchangeSubject, ActorClaim } from './contracts/trust.js'
export { normalizeResource } from './contracts/resource-uri.js'
export {
  oidcResourceServer,
  BearerChallengeError,
  type OidcResourceServerOptions,
  type ResourceServerApi,
  type TokenRequirement,
  type VerifiedAccessToken,
  type AccessTokenPayload,
  type LocalKeys,
} from './resource-server/index.js'
export { oidcAdmin, type OidcAdminOptions } from './admin/index.js'
export type {
  Interaction, InteractionClient, InteractionScope, InteractionPrompt, InteractionResult, InteractionErrorCode,
  InteractionOptions, LoginResult, ConsentResult, PasswordCheck,
  AuthorizationResult, LogoutResult, LogoutInteraction, SignedOutView,
} from './contracts/interactions.js'
export type { ClaimsRequest, ClaimRequest } from './contracts/interactions.js'
export type { ClaimsHook, ClaimsHooks, ClaimsHookInput, ClaimsContext, TokenKind, ScopesOption, ScopeDefinition } from './contracts/claims.js'
export { registeredClaims } from './tokens/scopes.js'
export type { PagesOptions, BrandOptions, PageName, Messages } from './contracts/pages.js'
export { builtInCatalogs } from './http/pages/i18n.js'
export { escapeHtml } from './http/html.js'
export type { MetricsOptions } from './contracts/metrics.js'
export type { ProviderMetrics } from './provider/metrics/index.js'
export type { ProviderHealth, HealthStatus } from './provider/health.js'
export { MemoryPasskeyStore } from './adapters/passkeys/memory.js'
export { RedisPasskeyStore, type RedisPasskeyStoreOptions } from './adapters/passkeys/redis.js'
export type { PasskeyStore, StoredPasskey, PasskeyUse, PasskeySummary, PasskeyLogin, PasskeyOptions, PasskeyAcr } from './contracts/passkeys.js'
export type { OidcPasskeysApi, PasskeyCeremonyOptions } from './provider/host-api.js'
