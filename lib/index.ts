export { oidcProvider } from './plugin.js'
export type { OidcProviderOptions, StaticClient } from './options.js'
export type { OidcHostApi } from './host-api.js'
export { OAuthError, StoreUnavailableError, type OAuthErrorCode } from './errors.js'
export type { SecurityEvents, SecurityEventName } from './events.js'

export { MemoryStore, type MemoryStoreOptions } from './adapters/store/memory.js'
export { RedisStore, type RedisStoreOptions } from './adapters/store/redis.js'
export type * from './adapters/store/types.js'

export { generatedKeys, type GeneratedKeysOptions } from './adapters/keys/generated.js'
export { fileKeys, generateKeyFile, type FileKeysOptions } from './adapters/keys/file.js'
export type { KeySource, KeySet, SigningKey, PublicJwk, SigningAlgorithm, KeySourceContext } from './adapters/keys/types.js'

export { staticUsers, type StaticUser } from './adapters/users/static.js'
export { hashPassword, verifyPassword } from './adapters/users/password.js'
export type { UserAdapter, UserClaims } from './adapters/users/types.js'

export type { RegistrationPolicy } from './registration/policy.js'
export type { ClientMetadata } from './registration/metadata.js'

export type { ResourceServer, ResourceServerCredentials, ResourceServerQuery, FindResourceServer } from './resources/types.js'
export { normalizeResource } from './resources/uri.js'
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
export type {
  Interaction, InteractionClient, InteractionScope, InteractionPrompt, InteractionResult, InteractionErrorCode,
  InteractionOptions, LoginResult, ConsentResult, PasswordCheck,
  AuthorizationResult, LogoutResult, LogoutInteraction, SignedOutView,
} from './interactions/types.js'
export type { ClaimsRequest, ClaimRequest } from './interactions/request.js'
export type { ClaimsHook, ClaimsHooks, ClaimsHookInput, ClaimsContext, TokenKind } from './tokens/claims-hook.js'
export { registeredClaims, type ScopesOption, type ScopeDefinition } from './claims.js'
export type { PagesOptions, BrandOptions, PageName } from './pages/options.js'
export type { Messages } from './pages/i18n.js'
export { builtInCatalogs } from './pages/i18n.js'
export type { MetricsOptions } from './metrics/options.js'
export type { ProviderMetrics } from './metrics/index.js'
export type { ProviderHealth, HealthStatus } from './health.js'
