import Type, { type Static } from 'typebox'
import type { PublicJwk } from '../contracts/keys.js'
import { optionMessage, type OptionProblem } from '../contracts/errors.js'
import { ByReference, fastifyRegisterOptions, optionMessageKeyword, validateOptions } from '../contracts/option-schema.js'
import { issuerProblem } from '../contracts/urls.js'

/** Asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037): HS* and `none` are never accepted. */
export const asymmetricAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const

/**
 * Every option of `oidcResourceServer`, with the defaults of its plain data: an unknown name fails
 * `register` (with the nearest known name); `keys` and `dpop.markUsed` are checked in code.
 */
export const ResourceServerOptionsSchema = Type.Object({
  ...fastifyRegisterOptions,
  resource: Type.String({ minLength: 1, description: 'This API\'s resource identifier (RFC 8707): the `aud` its tokens must carry.' }),
  // Checked in code too (issuerProblem), so a bad URL gets a sentence rather than a pattern.
  issuer: Type.String({ description: 'The authorization server\'s issuer: the `iss` its tokens must carry, byte for byte.', [optionMessageKeyword]: 'must be the issuer URL as a string, such as https://id.example.com' }),
  keys: Type.Optional(ByReference<LocalKeys>('Keys from a provider in the same app (`app.oidc`). Default: the issuer\'s JWKS over HTTP.')),
  jwksUri: Type.Optional(Type.String({ pattern: '^https?://', description: 'The issuer\'s JWKS URL. Default: `jwks_uri` from its discovery document.' })),
  jwks: Type.Object({
    cacheMaxAge: Type.Integer({ minimum: 0, default: 600_000, description: 'How long (ms) fetched keys are used before they are fetched again.' }),
    cooldown: Type.Integer({ minimum: 0, default: 30_000, description: 'After a fetch, how long (ms) an unknown `kid` waits before another fetch.' }),
    timeout: Type.Integer({ minimum: 1, default: 5000, description: 'Timeout (ms) of each discovery or JWKS request.' }),
  }, { additionalProperties: false, default: {} }),
  algorithms: Type.Array(Type.Union(asymmetricAlgorithms.map((alg) => Type.Literal(alg))), {
    minItems: 1,
    default: [...asymmetricAlgorithms],
    description: 'Accepted signature algorithms (asymmetric only).',
  }),
  clockTolerance: Type.Integer({ minimum: 0, maximum: 300, default: 5, description: 'Seconds of clock skew tolerated for `exp`, `nbf` and `iat`.' }),
  scopes: Type.Array(Type.String({ pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' }), { default: [], description: 'Scopes this API accepts (`scopes_supported` of its metadata).' }),
  introspection: Type.Optional(Type.Object({
    clientId: Type.String({ minLength: 1, description: 'This API\'s introspection client_id at the issuer.' }),
    clientSecret: Type.String({ minLength: 1, description: 'Its secret (sent with client_secret_basic).' }),
    endpoint: Type.Optional(Type.String({ pattern: '^https?://', description: 'Default: `introspection_endpoint` from discovery.' })),
    cacheTtl: Type.Integer({ minimum: 0, maximum: 300, default: 10, description: 'Seconds an introspection answer is reused for the same token.' }),
  }, { additionalProperties: false })),
  metadata: Type.Boolean({ default: true, description: 'Serve the RFC 9728 protected resource metadata.' }),
  resourceName: Type.Optional(Type.String({ maxLength: 200, description: '`resource_name` in the metadata.' })),
  dpop: Type.Object({
    required: Type.Boolean({ default: false, description: 'Refuse Bearer tokens: only DPoP-bound tokens with a proof (RFC 9449 §7).' }),
    baseUrl: Type.Optional(Type.String({ pattern: '^https?://[^?#]+$', description: 'This API\'s public base URL, for `htu` behind a proxy. Default: from `request.protocol` and `request.host`.' })),
    proofMaxAge: Type.Integer({ minimum: 1, maximum: 3600, default: 300, description: 'How old a proof\'s `iat` may be, in seconds.' }),
    markUsed: Type.Optional(ByReference<(key: string, expiresAt: number) => Promise<boolean>>('A shared, atomic replay store for proofs (several API instances). Default: in memory.')),
  }, { additionalProperties: false, default: {} }),
}, { additionalProperties: false })

export type ResourceServerOptionsData = Static<typeof ResourceServerOptionsSchema>

/** Keys of an issuer in the same process (no HTTP): `app.oidc` of the provider is one. */
export interface LocalKeys {
  /** The issuer's current public keys; a new array after a rotation. */
  publicKeys (): readonly PublicJwk[]
}

/**
 * Options of the `oidcResourceServer` plugin.
 *
 * @example
 * // Another process: keys from the issuer's discovery (fetched once, cached, refreshed on rotation).
 * await api.register(oidcResourceServer, { resource: 'https://api.example.com/', issuer: 'https://id.example.com', scopes: ['notes:read'] })
 * // The provider's own app: keys straight from it.
 * await app.register(oidcResourceServer, { resource: 'https://api.example.com/', issuer: app.oidc.issuer, keys: app.oidc })
 */
export interface OidcResourceServerOptions {
  /** Required. This API's resource identifier (RFC 8707 §2): tokens must carry it as `aud`. */
  resource: string
  /** Required. The authorization server's issuer: tokens must carry it as `iss`. */
  issuer: string
  /** Keys from a provider in the same app (`app.oidc`). Default: the issuer's JWKS over HTTP. */
  keys?: LocalKeys
  /** The JWKS URL. Default: `jwks_uri` of `${issuer}/.well-known/openid-configuration`. */
  jwksUri?: string
  /** Remote JWKS caching (milliseconds). */
  jwks?: Partial<ResourceServerOptionsData['jwks']>
  /** Accepted `alg` values. Default: every asymmetric JWS algorithm. */
  algorithms?: Array<typeof asymmetricAlgorithms[number]>
  /** Clock skew tolerated, in seconds. Default: 5. */
  clockTolerance?: number
  /** Scopes this API accepts, published as `scopes_supported`. */
  scopes?: string[]
  /** Credentials for `/introspect`, used by routes that require `introspect: true`. */
  introspection?: { clientId: string, clientSecret: string, endpoint?: string, cacheTtl?: number }
  /** Serve `/.well-known/oauth-protected-resource` (RFC 9728). Default: true. */
  metadata?: boolean
  /** Human-readable name in the metadata. */
  resourceName?: string
  /**
   * DPoP (RFC 9449 §7): DPoP-bound tokens are always accepted with a proof. `required` refuses
   * Bearer tokens (and publishes `dpop_bound_access_tokens_required`); `baseUrl` is the public
   * URL proofs name behind a proxy; `markUsed` is a shared, atomic replay store (e.g.
   * `(key, exp) => store.markUsed(key, exp)`) for several API instances. Default: an in-memory
   * cache per plugin instance.
   */
  dpop?: Partial<ResourceServerOptionsData['dpop']> & { markUsed?: (key: string, expiresAt: number) => Promise<boolean> }
}

type SameNames<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false
type Assert<Condition extends true> = Condition

/** The documented interface and the schema name the same options, or this fails to compile. */
export type ResourceServerOptionNamesAgree = Assert<SameNames<OidcResourceServerOptions & { [Name in keyof typeof fastifyRegisterOptions]?: unknown }, ResourceServerOptionsData>>

/** A bad option: fails `register` with a message naming it (worded as the provider's are). */
export class ResourceServerOptionError extends TypeError {
  readonly code = 'FST_OIDC_RS_INVALID_OPTION'
  constructor (option: string | OptionProblem, message = '') {
    super(`fastify-oidc-provider/resource-server: ${optionMessage(typeof option === 'string' ? { path: option, message } : option)}`)
    this.name = 'ResourceServerOptionError'
  }
}

export function validateResourceServerOptions (options: unknown): ResourceServerOptionsData {
  const data = validateOptions(ResourceServerOptionsSchema, options, (problem) => new ResourceServerOptionError(problem))
  const badIssuer = issuerProblem(data.issuer)
  if (badIssuer !== undefined) throw new ResourceServerOptionError('issuer', badIssuer)
  const { keys, dpop } = options as OidcResourceServerOptions
  if (dpop?.markUsed !== undefined && typeof dpop.markUsed !== 'function') throw new ResourceServerOptionError('dpop.markUsed', 'must be a function (key, expiresAt) => Promise<boolean>')
  if (keys !== undefined && typeof (keys as LocalKeys | null)?.publicKeys !== 'function') {
    throw new ResourceServerOptionError('keys', 'must have a publicKeys() method (pass app.oidc)')
  }
  return data
}
