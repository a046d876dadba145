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
