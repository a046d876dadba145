import Type from 'typebox'

/**
 * A protected resource (an API) the host declares to the provider: what RFC 8707 calls the
 * target service of a token. Tokens requested for it carry its identifier as `aud` and only the
 * scopes it accepts.
 *
 * @example
 * const notesApi: ResourceServer = {
 *   resource: 'https://api.example.com/',
 *   name: 'Notes API',
 *   scopes: { 'notes:read': 'Read your notes', 'notes:write': 'Create and change your notes' },
 *   accessTokenTtl: 600,
 *   introspection: { clientId: 'notes-api', clientSecret: process.env.NOTES_API_SECRET! },
 * }
 */
export interface ResourceServer {
  /** RFC 8707 §2 resource indicator: an absolute URI without a fragment. Compared normalised. */
  resource: string
  /** A display name for the consent page. */
  name?: string
  /** The scopes this resource accepts, each with the sentence the consent page shows for it. */
  scopes: Record<string, string>
  /** Lifetime (seconds) of access tokens for this resource. Default: `ttl.accessToken`. */
  accessTokenTtl?: number
  /**
   * Credentials the resource server authenticates with at `/introspect` (RFC 7662 §2.1),
   * by `client_secret_basic` or `client_secret_post`. Without them it cannot introspect.
   */
  introspection?: ResourceServerCredentials
}

/**
 * The introspection credentials of a resource server. A static list gives the plain secret
 * (hashed at startup, never kept); a lookup function over a database returns the hash
 * (SHA-256, base64url, as `sha256(secret)` in Node: `createHash('sha256').update(secret).digest('base64url')`).
 */
export interface ResourceServerCredentials {
  clientId: string
  /** The plain secret (at least 16 characters): static lists. */
  clientSecret?: string
  /** Or its SHA-256, base64url: lookup functions over a database. One of the two is required. */
  clientSecretHash?: string
}

/** What a lookup function is asked for: a resource by its identifier, or by its introspection client_id. */
export type ResourceServerQuery =
  | { resource: string, introspectionClientId?: never }
  | { introspectionClientId: string, resource?: never }

/**
 * Looks up resource servers kept elsewhere (a database). Called with the normalised identifier
 * a client asked for, or with the client_id a caller of `/introspect` presented. Returns
 * undefined (or null) for an unknown one; a throw answers 503 `temporarily_unavailable`.
 *
 * @example
 * findResourceServer: async (query) => query.resource !== undefined
 *   ? await db.apis.byIdentifier(query.resource)
 *   : await db.apis.byIntrospectionClient(query.introspectionClientId)
 */
export type FindResourceServer = (query: ResourceServerQuery) => Promise<ResourceServer | undefined | null>

/** A resource server as the provider uses it: identifier normalised, secret only as a hash. */
export interface KnownResource {
  /** The normalised identifier: what tokens carry as `aud`. */
  resource: string
  name?: string
  /** Accepted scopes → consent descriptions. */
  scopes: ReadonlyMap<string, string>
  accessTokenTtl?: number
  introspection?: { clientId: string, clientSecretHash: string }
  /**
   * True for the provider itself (its issuer as a resource indicator): its tokens keep every
   * scope and are the ones `/userinfo` accepts.
   */
  self: boolean
}

/** The resource servers the provider knows (`ctx.resources`, built once by resources/registry.ts). */
export interface ResourceCatalog {
  /** The consent-page description of a resource server's scope. */
  describeScope (scope: string): string | undefined
  /** Whether a scope is one of the provider's own (the `scopes` option), not only an API's. */
  isProviderScope (scope: string): boolean
  /** True when any resource server may introspect (declared with credentials, or a lookup). */
  readonly hasIntrospectionClients: boolean
  /** The resource server an RFC 8707 `resource` names, from the list or the host's lookup. */
  find (resource: string): Promise<KnownResource | undefined>
  /** The resource server that introspects with this client id. */
  findByIntrospectionClient (clientId: string): Promise<KnownResource | undefined>
}

/** The static `resourceServers` option (see `ResourceServer`); code checks the rest at startup. */
export const ResourceServerSchema = Type.Object({
  resource: Type.String({ minLength: 1, description: 'RFC 8707 resource indicator: an absolute URI without a fragment.' }),
  name: Type.Optional(Type.String({ maxLength: 200, description: 'Display name on the consent page.' })),
  scopes: Type.Record(Type.String(), Type.String(), { description: 'Accepted scopes, each with its consent-page description.' }),
  accessTokenTtl: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 * 365 * 86400, description: 'Access-token lifetime for this resource (seconds).' })),
  introspection: Type.Optional(Type.Object({
    clientId: Type.String({ minLength: 1 }),
    clientSecret: Type.Optional(Type.String({ minLength: 16, description: 'Plain secret; hashed at startup and never kept.' })),
    clientSecretHash: Type.Optional(Type.String({ minLength: 1, description: 'SHA-256 (base64url) of the secret.' })),
  }, { additionalProperties: false })),
}, { additionalProperties: false })
