import Type, { type Static } from 'typebox'
import type { Store } from './store.js'
import type { KeySource } from './keys.js'
import type { UserAdapter } from './users.js'
import type { ClientDocumentPolicy, ClientMetadata, RegistrationPolicy } from './clients.js'
import type { CorsOptions } from './http.js'
import { ResourceServerSchema, type FindResourceServer, type ResourceServer } from './resources.js'
import type { ClaimsHook, ClaimsHooks, ScopeRegistry, ScopesOption } from './claims.js'
import type { InteractionOptions } from './interactions.js'
import type { PagesOptions } from './pages.js'
import type { PasskeyOptions, PasskeyStore } from './passkeys.js'
import type { MetricsOptions, ResolvedMetricsOptions } from './metrics.js'
import { ByReference, fastifyRegisterOptions, optionMessageKeyword } from './option-schema.js'
import { TrustedIssuerSchema, type FindTrustedIssuer, type TokenExchangePolicy, type TrustedIssuer } from './trust.js'

const Seconds = (description: string, defaultValue: number) =>
  Type.Integer({ minimum: 1, maximum: 10 * 365 * 86400, default: defaultValue, description })

/** Lifetimes in seconds. */
export const TtlSchema = Type.Object({
  accessToken: Seconds('Access token lifetime.', 3600),
  idToken: Seconds('ID token lifetime.', 3600),
  refreshToken: Seconds('Refresh token lifetime (each rotation issues a fresh one).', 14 * 86400),
  refreshTokenAbsolute: Seconds('Absolute lifetime of a refresh token family; rotation never extends past it.', 90 * 86400),
  code: Seconds('Authorization code lifetime (RFC 6749 §4.1.2 recommends at most 10 minutes).', 60),
  interaction: Seconds('How long a pending login/consent page stays valid.', 600),
  session: Seconds('Login session lifetime (the SSO cookie).', 14 * 86400),
  grant: Seconds('How long a user\'s consent to a client is remembered.', 90 * 86400),
  deviceCode: Seconds('RFC 8628 §3.2 `expires_in`: how long a device code and its user code can be used.', 600),
}, { additionalProperties: false, default: {} })

/**
 * The response types the authorization endpoint can be opted into (OIDC Core §3.1, §3.2,
 * §3.3), spelled as OAuth 2.0 Multiple Response Type Encoding Practices §5 does. None with
 * `token`: no access token is ever sent through the front channel (RFC 9700 §2.1.2).
 */
export const authorizationResponseTypes = ['code', 'id_token', 'code id_token'] as const
export type AuthorizationResponseType = typeof authorizationResponseTypes[number]

/** A client the host configures in code (its own apps). */
export const StaticClientSchema = Type.Object({
  client_id: Type.String({ minLength: 1, maxLength: 200 }),
  client_secret: Type.Optional(Type.String({ minLength: 16, description: 'Plain secret; hashed at startup and never kept.' })),
  redirect_uris: Type.Optional(Type.Array(Type.String(), { default: [] })),
  grant_types: Type.Optional(Type.Array(Type.Union([
    Type.Literal('authorization_code'), Type.Literal('refresh_token'), Type.Literal('client_credentials'),
    Type.Literal('implicit'),
    Type.Literal('urn:ietf:params:oauth:grant-type:device_code'),
    Type.Literal('urn:ietf:params:oauth:grant-type:token-exchange'), Type.Literal('urn:ietf:params:oauth:grant-type:jwt-bearer'),
  ]))),
  response_types: Type.Optional(Type.Array(Type.String())),
  token_endpoint_auth_method: Type.Optional(Type.Union([
    Type.Literal('client_secret_basic'), Type.Literal('client_secret_post'), Type.Literal('none'),
    Type.Literal('private_key_jwt'),
  ])),
  scope: Type.Optional(Type.String()),
  client_name: Type.Optional(Type.String({ maxLength: 200 })),
  application_type: Type.Optional(Type.Union([Type.Literal('web'), Type.Literal('native')])),
  client_uri: Type.Optional(Type.String()),
  logo_uri: Type.Optional(Type.String()),
  policy_uri: Type.Optional(Type.String()),
  tos_uri: Type.Optional(Type.String()),
  contacts: Type.Optional(Type.Array(Type.String())),
  first_party: Type.Optional(Type.Boolean({ description: 'Skip the consent page for this client.' })),
  // Algorithm wishes (OIDC Registration §2), checked against lib/tokens/algorithms.ts like registration's.
  id_token_signed_response_alg: Type.Optional(Type.String({ description: 'The ID token signing alg; one the keys support.' })),
  userinfo_signed_response_alg: Type.Optional(Type.String()),
  token_endpoint_auth_signing_alg: Type.Optional(Type.String()),
  request_object_signing_alg: Type.Optional(Type.String()),
  id_token_encrypted_response_alg: Type.Optional(Type.String()),
  id_token_encrypted_response_enc: Type.Optional(Type.String()),
  userinfo_encrypted_response_alg: Type.Optional(Type.String()),
  userinfo_encrypted_response_enc: Type.Optional(Type.String()),
  request_object_encryption_alg: Type.Optional(Type.String()),
  request_object_encryption_enc: Type.Optional(Type.String()),
  pkce: Type.Optional(Type.Union([Type.Literal('required'), Type.Literal('nonce-allowed'), Type.Literal('optional')], {
    description: "'nonce-allowed': a confidential client that sends a nonce (scope openid) may skip PKCE (RFC 9700 §2.1.1). 'optional': a confidential client may send neither (legacy and certification clients; weaker, see docs/certification.md). Refused for public clients. Default 'required'.",
  })),
  post_logout_redirect_uris: Type.Optional(Type.Array(Type.String(), { description: 'Where RP-initiated logout may send the user back (exact match).' })),
  backchannel_logout_uri: Type.Optional(Type.String({ description: 'Where Logout Tokens are POSTed when a session ends.' })),
  backchannel_logout_session_required: Type.Optional(Type.Boolean({ description: 'Logout Tokens must carry sid (they always do).' })),
  // Issue 18: keys (private_key_jwt), ID token algorithm, DPoP, PAR.
  jwks: Type.Optional(Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) }, { additionalProperties: false })),
  jwks_uri: Type.Optional(Type.String()),
  dpop_bound_access_tokens: Type.Optional(Type.Boolean()),
  require_pushed_authorization_requests: Type.Optional(Type.Boolean()),
  require_signed_request_object: Type.Optional(Type.Boolean({ description: 'RFC 9101 §10.5: this client\'s authorization requests must be signed request objects.' })),
}, { additionalProperties: false })

export type StaticClient = Static<typeof StaticClientSchema>

export const RateLimitSchema = Type.Object({
  loginFailures: Type.Integer({ minimum: 1, default: 10, description: 'Failed logins per username, and per IP, before lockout.' }),
  loginWindow: Seconds('Window for counting failed logins (and the lockout length).', 900),
  clientAuthFailures: Type.Integer({ minimum: 1, default: 20, description: 'Failed client authentications per client_id, and per IP, before 429.' }),
  clientAuthWindow: Seconds('Window for counting failed client authentications.', 900),
  userCodeFailures: Type.Integer({ minimum: 1, default: 10, description: 'Wrong device user codes per browser, and per IP, before lockout (RFC 8628 §5.1).' }),
  userCodeWindow: Seconds('Window for counting wrong user codes (and the lockout length).', 900),
}, { additionalProperties: false, default: {} })

/** Outbound requests (client metadata documents, jwks_uri, back-channel logout). */
export const OutboundSchema = Type.Object({
  allowLoopback: Type.Boolean({ default: false, description: 'Development only: let https requests reach loopback addresses.' }),
  allowHttpLoopback: Type.Boolean({ default: false, description: 'Development only: let plain http requests reach loopback hosts (an http issuer and its local receivers).' }),
  timeoutMs: Type.Integer({ minimum: 100, maximum: 30_000, default: 5000, description: 'Timeout of one outbound request (client metadata document, back-channel logout), in milliseconds.' }),
  ca: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }))], { description: 'Extra trusted certificate authorities (PEM) for outbound https, besides Node\'s roots (a self-signed development certificate).' })),
}, { additionalProperties: false, default: {} })

const hostFunction = <F>(description: string) => Type.Optional(ByReference<F>(description))

/** `registration`: false, or a policy ({} is open registration); checked in code (initial access tokens, the hook). */
const RegistrationMembers = Type.Union([
  Type.Literal(false),
  Type.Object({
    initialAccessToken: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())], { description: 'One or several accepted initial access tokens (at least 16 characters each). Unset: open registration.' })),
    validate: hostFunction<(metadata: ClientMetadata) => ClientMetadata>('(metadata, request) => metadata: changes or refuses (throws an OAuthError) a registration before it is stored.'),
  }, { additionalProperties: false }),
])

/** `scopes`: a list of names and definitions, or definitions beside the standard scopes; checked in code (resolveScopes). */
const ScopeDefinitionMembers = {
  claims: Type.Optional(Type.Array(Type.String(), { description: 'Claims released at userinfo (and in the ID token) when the scope is granted.' })),
  description: Type.Optional(Type.String({ description: 'The consent page\'s text for the scope.' })),
}
const ScopesMembers = Type.Union([
  Type.Array(Type.Union([Type.String(), Type.Object({ name: Type.String(), ...ScopeDefinitionMembers }, { additionalProperties: false })])),
  Type.Record(Type.String(), Type.Union([Type.Boolean(), Type.Object(ScopeDefinitionMembers, { additionalProperties: false })])),
])

/** `pages`: the built-in pages' brand, templates and catalogs; checked in code by the page renderer. */
const PagesMembers = Type.Object({
  brand: Type.Optional(Type.Object({
    name: Type.Optional(Type.String({ description: 'Product name, above each page\'s card and in the window title.' })),
    logoUrl: Type.Optional(Type.String({ description: 'Logo image URL (absolute http(s), or a path on the issuer\'s origin).' })),
    colors: Type.Optional(Type.Object({
      accent: Type.Optional(Type.String({ description: 'Buttons and links.' })),
      accentText: Type.Optional(Type.String({ description: 'Text on buttons.' })),
      background: Type.Optional(Type.String({ description: 'Page background.' })),
      card: Type.Optional(Type.String({ description: 'Card background.' })),
      text: Type.Optional(Type.String({ description: 'Text colour.' })),
    }, { additionalProperties: false })),
    stylesheetUrl: Type.Optional(Type.String({ description: 'An extra stylesheet linked after ours.' })),
  }, { additionalProperties: false })),
  templates: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Page name → path of an Eta template file that replaces ours.' })),
  messages: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Type.String()), { description: 'Locale → messages (adds a language, or changes texts of a shipped one).' })),
}, { additionalProperties: false })

/** `metrics`: true, or where and how to publish them; checked in code (a registry is a prom-client object). */
const MetricsMembers = Type.Union([
  Type.Boolean(),
  Type.Object({
    registry: Type.Optional(ByReference<MetricsOptions['registry']>('A prom-client Registry of the host\'s. Default: one of the provider\'s own.')),
    prefix: Type.Optional(Type.String({ description: 'Prepended to every metric name. Default `oidc_`.' })),
    route: Type.Optional(Type.Union([Type.Literal(false), Type.String()], { description: 'Serves the registry at this path (under `prefix`). Default false.' })),
  }, { additionalProperties: false }),
])

/**
 * Every option of the `oidcProvider` plugin, and the home of their defaults: the one list of
 * known names (an unknown one fails `register`, with the nearest known name). Plain data is
 * validated, defaulted and copied through it; `ByReference` entries (adapters, functions, host
 * objects) are named and described here, checked in code (lib/provider/options.ts) and passed
 * through untouched.
 */
export const OptionsSchema = Type.Object({
  ...fastifyRegisterOptions,
  prefix: Type.Optional(ByReference<string>('Fastify route prefix; the plugin registers its routes under it.')),
  // Checked in code as well (issuerProblem, contracts/urls.ts), so a bad URL gets a sentence.
  issuer: Type.String({
    description: 'The issuer URL, published exactly as given (a trailing slash is kept); every URL in discovery derives from it, never from request headers.',
    [optionMessageKeyword]: 'must be the issuer URL as a string, such as https://id.example.com',
  }),
  store: Type.Optional(ByReference<Store>('Where codes, tokens, sessions and clients live (MemoryStore, RedisStore or your own Store). Default: a new MemoryStore.')),
  keys: Type.Optional(ByReference<KeySource>('Signing keys (a KeySource: fileKeys({ dir }), or your own). Default: a key generated in memory, with a warning.')),
  users: Type.Optional(ByReference<UserAdapter>('Authenticates users and returns their claims (a UserAdapter). Default: no users (every login fails).')),
  cookieSecret: Type.Optional(Type.Union([
    Type.String({ minLength: 32 }),
    Type.Array(Type.String({ minLength: 32 }), { minItems: 1 }),
  ], {
    description: 'Signs the login-session cookie; an array rotates (first signs, all verify).',
    [optionMessageKeyword]: 'must be a random secret of at least 32 characters, or a non-empty array of such secrets (the first signs, all verify); make one with `openssl rand -base64 32`',
  })),
  ttl: TtlSchema,
  scopes: Type.Optional(ByReference<ScopesOption>(
    'Scopes the provider supports (others are ignored at /authorize), or custom scope definitions. Default: the standard scopes.',
    ScopesMembers
  )),
  clients: Type.Array(StaticClientSchema, { default: [] }),
  registration: Type.Optional(ByReference<RegistrationPolicy | false>('Dynamic client registration (RFC 7591): false, or a policy ({} is open). Default: false.', RegistrationMembers)),
  accessTokenAudience: Type.Optional(Type.String({ minLength: 1, description: 'RFC 9068 `aud` of access tokens. Default: the issuer.' })),
  responseTypes: Type.Array(Type.Union([Type.Literal('code'), Type.Literal('id_token'), Type.Literal('code id_token')]), {
    minItems: 1,
    uniqueItems: true,
    default: ['code'],
    description: "Response types clients may be registered for: 'code' (default), and the opt-ins 'id_token' and 'code id_token' (OIDC Core §3.2, §3.3), sent by form_post or fragment only.",
  }),
  defaultResource: Type.Optional(Type.String({
    minLength: 1,
    description: 'RFC 8707: the resource (one of `resourceServers`) an authorization or client_credentials request without `resource` gets. Default: none (tokens for the issuer).',
    [optionMessageKeyword]: 'must be the resource identifier of one of `resourceServers`, such as https://api.example.com/',
  })),
  includeUserinfoAudience: Type.Boolean({ default: false, description: 'A token for a resource server, when `openid` was granted, also names the userinfo endpoint in `aud` (and keeps the OpenID scopes), so one token serves the API and /userinfo.' }),
  nonceReplayProtection: Type.Boolean({ default: true, description: 'Refuse a nonce a client already used within the ID token lifetime.' }),
  rateLimit: RateLimitSchema,
  cookieName: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', default: 'oidc_session', description: 'Name of the login-session cookie.' }),
  pageTitle: Type.String({ maxLength: 100, default: 'Sign in', description: 'Title shown on the login page.' }),
  resourceServers: Type.Array(ResourceServerSchema, { default: [], description: 'Resource servers (APIs) tokens can be requested for (RFC 8707).' }),
  findResourceServer: hostFunction<FindResourceServer>('(query) => Promise<ResourceServer | undefined>: looks up resource servers the static list does not know.'),
  outbound: OutboundSchema,
  // Issue 28: token exchange (RFC 8693) and assertion grants (RFC 7523).
  trustedIssuers: Type.Array(TrustedIssuerSchema, { default: [], description: 'Issuers whose JWTs are accepted: ID-JAGs, workload JWTs, token-exchange subject tokens.' }),
  findTrustedIssuer: hostFunction<FindTrustedIssuer>('(issuer) => Promise<TrustedIssuer | undefined>: looks up trusted issuers the static list does not know.'),
  tokenExchange: Type.Object({
    policy: hostFunction<TokenExchangePolicy>('(request) => decision | false: decides every token exchange. Default: only a resource server exchanging a token it received for a downstream resource.'),
    idJagTtl: Type.Integer({ minimum: 10, maximum: 3600, default: 300, description: 'Lifetime (seconds) of the ID-JAGs this provider issues.' }),
  }, { additionalProperties: false, default: {} }),
  cors: Type.Optional(ByReference<CorsOptions>('CORS for browser apps: who may read token, revoke, introspect, userinfo and register answers.', Type.Object({
    allowOrigin: hostFunction<CorsOptions['allowOrigin']>('(origin, { endpoint, client?, allowedByDefault }) => boolean. Default: the client\'s redirect URI origins.'),
  }, { additionalProperties: false }))),
  interactions: Type.Optional(ByReference<InteractionOptions>('The host\'s own login, consent and logout pages. Default: the built-in pages.', Type.Object({
    url: hostFunction<InteractionOptions['url']>('(interaction) => the URL of your login/consent page.'),
    logoutUrl: hostFunction<InteractionOptions['logoutUrl']>('(interaction) => the URL of your logout confirmation page.'),
    signedOutUrl: hostFunction<InteractionOptions['signedOutUrl']>('(view) => the URL of your signed-out page.'),
  }, { additionalProperties: false }))),
  tokenClaims: Type.Optional(ByReference<ClaimsHooks>('Claims the host adds to access tokens and ID tokens; registered claims are never changed.', Type.Object({
    accessToken: hostFunction<ClaimsHook>('(input) => extra access token claims.'),
    idToken: hostFunction<ClaimsHook>('(input) => extra ID token claims.'),
  }, { additionalProperties: false }))),
  pages: Type.Optional(ByReference<PagesOptions>('Brand, templates and message catalogs of the built-in pages.', PagesMembers)),
  refreshTokenGrace: Type.Integer({
    minimum: 0,
    maximum: 300,
    default: 10,
    description: 'Seconds during which a rotated refresh token, presented again by its client before its successor was used, gets the same successor (0 = off).',
  }),
  maxSessionsPerAccount: Type.Integer({
    minimum: 1,
    maximum: 1000,
    default: 100,
    description: 'Live login sessions one account may hold; a login past it ends the account\'s oldest session as a logout would (reason `limit`).',
  }),
  defaultAcr: Type.String({
    minLength: 1,
    maxLength: 200,
    default: '0',
    description: 'OIDC Core §2 `acr` put in the ID token when the client sent `acr_values` and the login stated none (LoginResult.acr). "0": no ISO/IEC 29115 level claimed.',
  }),
  idTokenScopeClaims: Type.Boolean({ default: true, description: 'Put the granted scopes\' claims in the ID token too (false: OIDC Core §5.4 minimal ID tokens).' }),
  dpop: Type.Object({
    requireNonce: Type.Boolean({ default: false, description: 'RFC 9449 §8: require a server-provided nonce in DPoP proofs at the token and PAR endpoints.' }),
    proofMaxAge: Type.Integer({ minimum: 5, maximum: 3600, default: 300, description: 'How old (seconds) a DPoP proof\'s iat may be.' }),
  }, { additionalProperties: false, default: {} }),
  par: Type.Object({
    required: Type.Boolean({ default: false, description: 'RFC 9126 §5: every authorization request must be pushed (require_pushed_authorization_requests).' }),
    ttl: Type.Integer({ minimum: 5, maximum: 600, default: 30, description: 'Lifetime (seconds) of a pushed request\'s request_uri.' }),
  }, { additionalProperties: false, default: {} }),
  // Issue 25: request objects (OIDC Core §6, RFC 9101), lib/clients/request-object.ts.
  requestObjects: Type.Object({
    enabled: Type.Boolean({ default: true, description: 'Accept `request` (a request object by value, OIDC Core §6.1, RFC 9101), signed with a key the client registered (jwks or jwks_uri). false: `request_not_supported`.' }),
    allowUnsigned: Type.Boolean({ default: false, description: 'Also accept unsigned (`alg: none`) request objects: no more trusted than plain parameters; for certification runs and clients that only wrap parameters. Never for clients with require_signed_request_object.' }),
    requireSigned: Type.Boolean({ default: false, description: 'RFC 9101 §10.5 `require_signed_request_object` for every client: every authorization request (and pushed request) must be a signed request object.' }),
  }, { additionalProperties: false, default: {} }),
  // Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document); bounds checked
  // in code (lib/clients/metadata-document.ts: minCacheSeconds <= maxCacheSeconds).
  clientIdMetadataDocuments: Type.Union([
    Type.Boolean(),
    Type.Object({
      maxBytes: Type.Optional(Type.Integer({ minimum: 256, maximum: 65_536, description: 'Largest accepted document, in bytes. Default 5120.' })),
      maxCacheSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 7 * 86400, description: 'Longest a document is cached, whatever its Cache-Control says. Default 86400.' })),
      minCacheSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86400, description: 'Shortest a document is cached, even with no-store or max-age=0. Default 60.' })),
      allow: hostFunction<ClientDocumentPolicy>('(url) => boolean: the host\'s trust policy, asked before anything is fetched.'),
    }, { additionalProperties: false }),
  ], { default: false, description: 'Resolve https URL client_ids by fetching their Client ID Metadata Document.' }),
  accessTokenSigningAlg: Type.Optional(Type.Union([
    Type.Literal('RS256'), Type.Literal('PS256'), Type.Literal('ES256'), Type.Literal('EdDSA'),
  ], { description: 'The `alg` access tokens are signed with; the key source must hold a key for it. Default: the key source\'s default signer.' })),
  metrics: Type.Optional(ByReference<boolean | MetricsOptions>('Prometheus metrics with prom-client. Default: off.', MetricsMembers)),
  passkeys: Type.Optional(ByReference<PasskeyOptions>('Sign-in with passkeys (WebAuthn). Default: off.', Type.Object({
    store: ByReference<PasskeyStore>('Where passkeys are kept (MemoryPasskeyStore, RedisPasskeyStore, or your own).'),
    rpId: Type.Optional(Type.String({ description: 'The WebAuthn RP ID: the issuer\'s host (default) or a registrable parent domain of it.' })),
    rpName: Type.Optional(Type.String({ description: 'The name authenticators show. Default: the brand name, else the issuer\'s host.' })),
    offerEnrolment: Type.Optional(Type.Boolean({ description: 'Offer to add a passkey after a password sign-in on the built-in pages (default true).' })),
    acr: Type.Optional(Type.Object({
      deviceBound: Type.Optional(Type.String({ description: 'acr of a sign-in with a device-bound passkey. Default phrh.' })),
      synced: Type.Optional(Type.String({ description: 'acr of a sign-in with a synced passkey. Default phr.' })),
    }, { additionalProperties: false })),
    challengeTtl: Type.Optional(Type.Integer({ minimum: 30, maximum: 900, description: 'Seconds a ceremony\'s challenge stays valid. Default 300.' })),
  }, { additionalProperties: false }))),
  // Issue 30: the built-in account page (lib/routes/account.ts).
  accountPage: Type.Boolean({ default: false, description: 'Serve the built-in account page at /account: the signed-in user\'s connected apps and sessions (and passkeys, when on), each revocable.' }),
  // RFC 8628: the device authorization grant (lib/routes/device-authorization.ts).
  deviceFlow: Type.Object({
    interval: Type.Integer({ minimum: 1, maximum: 60, default: 5, description: 'RFC 8628 §3.2 `interval`: seconds a device waits between polls (each too-fast poll adds 5).' }),
  }, { additionalProperties: false, default: {} }),
  // Issue 19: liveness and readiness (lib/provider/health.ts).
  health: Type.Object({
    route: Type.Optional(Type.String({ pattern: '^/[^?#]*$', description: 'Mounts GET {route}/live and {route}/ready (under `prefix`). Default: no routes (app.oidc.health only).' })),
    timeoutMs: Type.Integer({ minimum: 50, maximum: 30_000, default: 1000, description: 'How long readiness waits for the store\'s ping, in milliseconds.' }),
  }, { additionalProperties: false, default: {} }),
}, { additionalProperties: false })

export type OptionsData = Static<typeof OptionsSchema>

/**
 * Options of the `oidcProvider` plugin.
 *
 * @example
 * await app.register(oidcProvider, {
 *   issuer: 'https://id.example.com',
 *   store: new RedisStore({ client: new Redis() }),
 *   keys: fileKeys({ dir: 'keys' }),
 *   users: staticUsers([{ username: 'demo', password: 'demo', sub: 'user-1' }]),
 *   cookieSecret: process.env.SECRET_KEY,
 * })
 */
export interface OidcProviderOptions {
  /**
   * Required. The issuer URL (`https://id.example.com` or `https://example.com/oidc`), with no
   * query or fragment. It is published exactly as given, byte for byte (discovery `issuer`, the
   * `iss` of tokens and of authorization responses): relying parties compare it as a string, so
   * configure them with the same string. A trailing slash is kept; endpoint URLs and the
   * well-known URLs are built without it (`https://id.example.com/` serves
   * `https://id.example.com/token`).
   */
  issuer: string
  /** Where codes, tokens, sessions and clients live. Default: a new `MemoryStore`. */
  store?: Store
  /** Signing keys. Default: an RSA-2048 key generated in memory (with a warning). */
  keys?: KeySource
  /** Authenticates users and returns their claims. Default: no users (every login fails). */
  users?: UserAdapter
  /** Signs the session cookie. Default: random per process (with a warning; sessions do not survive restarts or span instances). */
  cookieSecret?: string | string[]
  /** Static clients (the host's own apps). */
  clients?: StaticClient[]
  /** Lifetimes in seconds. */
  ttl?: Partial<OptionsData['ttl']>
  /**
   * Supported scopes: a list (as before), or custom scope definitions beside the standard ones,
   * each with the claims it releases and its consent text.
   *
   * @example
   * scopes: { roles: { claims: ['roles'], description: 'Your roles' } }
   */
  scopes?: ScopesOption
  /** Dynamic client registration (RFC 7591). Default: disabled. */
  registration?: RegistrationPolicy | false
  /** RFC 9068 `aud` of access tokens. Default: the issuer. */
  accessTokenAudience?: string
  /**
   * The response types clients may be registered for (and so use): `'code'` (the default, and
   * the one to keep), plus the opt-ins `'id_token'` and `'code id_token'` (OIDC Core §3.2,
   * §3.3) for relying parties that need them (express-openid-connect's defaults). Those two
   * need a `nonce` and answer by `form_post` or `fragment`, never in the query. No response
   * type with `token` exists here: access tokens never travel through the browser.
   *
   * @example
   * responseTypes: ['code', 'id_token']
   */
  responseTypes?: AuthorizationResponseType[]
  /**
   * RFC 8707: the resource an authorization request (or a client_credentials token request)
   * without `resource` gets, as if the client had sent it: its identifier, one of
   * `resourceServers` (checked at `register`). Tokens from such a grant have `aud` = this
   * resource and its scopes only (with `includeUserinfoAudience`, userinfo's too). Default: none
   * (a request without `resource` gets a token for the issuer, as before).
   *
   * @example
   * resourceServers: [{ resource: 'https://api.example.com/', scopes: { 'notes:read': 'Read your notes' } }],
   * defaultResource: 'https://api.example.com/',
   */
  defaultResource?: string
  /**
   * One access token for an API and for `/userinfo`: a token for a resource server, when
   * `openid` was granted, has `aud` = [the resource, the userinfo endpoint URL] and keeps the
   * granted OpenID scopes (`openid`, `profile`, `email`...) beside the API's, and `/userinfo`
   * accepts it (as Auth0 does). The API then holds a token it could present at userinfo: turn
   * it on for your own APIs, not for third-party ones. Default: false (a token for an API is
   * refused at `/userinfo`).
   *
   * @example
   * defaultResource: 'https://api.example.com/',
   * includeUserinfoAudience: true,
   */
  includeUserinfoAudience?: boolean
  /** Refuse a nonce already used by the same client. Default: true. */
  nonceReplayProtection?: boolean
  /** Brute-force limits. */
  rateLimit?: Partial<OptionsData['rateLimit']>
  /** Session cookie name. Default: `oidc_session`. */
  cookieName?: string
  /** Title of the login page. */
  pageTitle?: string
  /**
   * Grace window of refresh-token rotation, in seconds (default 10, 0 = off): a rotated token
   * presented again by its client within it, before its successor was used, gets the SAME
   * successor and fresh access (and ID) tokens instead of counting as reuse.
   */
  refreshTokenGrace?: number
  /**
   * Live login sessions one account may hold (default 100, 1–1000). A login past it ends the
   * account's oldest session as a logout would (`session.ended` with reason `limit`: its token
   * families without `offline_access` end, its clients get back-channel logout), so logins in a
   * loop cannot grow one account's session index without bound.
   *
   * @example
   * maxSessionsPerAccount: 10,
   */
  maxSessionsPerAccount?: number
  /** Fastify route prefix; the plugin honours it for its routes. */
  prefix?: string
  /**
   * Resource servers (APIs) clients can ask tokens for with RFC 8707 `resource`. Their scopes
   * become supported scopes. Default: none (every token has `aud` = `accessTokenAudience`).
   */
  resourceServers?: ResourceServer[]
  /** Looks up resource servers the static list does not know (kept in a database). */
  findResourceServer?: FindResourceServer
  /**
   * Issuers whose JWTs this provider accepts (issue 28): enterprise identity providers' ID-JAGs
   * and workloads' JWTs at the jwt-bearer grant (RFC 7523), subject tokens of other issuers in a
   * token exchange (RFC 8693). Default: none.
   */
  trustedIssuers?: TrustedIssuer[]
  /** Looks up trusted issuers the static list does not know. */
  findTrustedIssuer?: FindTrustedIssuer
  /**
   * Token exchange (RFC 8693): `policy` decides every exchange (default: only the safe default,
   * a resource server exchanging a token it received for one to a downstream resource);
   * `idJagTtl` is the lifetime of the ID-JAGs this provider issues (default 300).
   */
  tokenExchange?: { policy?: TokenExchangePolicy, idJagTtl?: number }
  /**
   * The SSRF-safe outbound fetcher's policy. Both flags are for development on one machine only
   * (a test receiver or metadata document on loopback); production leaves them off.
   */
  outbound?: Partial<OptionsData['outbound']>
  /** CORS for browser apps: who may read token, revoke, introspect, userinfo and register answers. */
  cors?: CorsOptions
  /** The host's own login and consent pages (issue 14). Default: the built-in pages. */
  interactions?: InteractionOptions
  /** Claims the host adds to access tokens and ID tokens; registered claims are never changed. */
  tokenClaims?: ClaimsHooks
  /** Put the granted scopes' claims in the ID token too (default true; false: OIDC Core §5.4 minimal ID tokens). */
  idTokenScopeClaims?: boolean
  /**
   * The `acr` of the ID token when the client asked for `acr_values` and the login did not state
   * one (`finishInteraction`'s `login.acr`). Default `"0"` (OIDC Core §2: no ISO/IEC 29115 level
   * claimed); a host whose logins meet a level names it here.
   */
  defaultAcr?: string
  /** Brand, templates and message catalogs of the built-in pages. */
  pages?: PagesOptions
  /**
   * The `alg` of access tokens (RS256, PS256, ES256, EdDSA); the key source must hold a key for
   * it. Default: the key source's default signer. ID tokens follow each client's
   * `id_token_signed_response_alg` (default RS256).
   */
  accessTokenSigningAlg?: 'RS256' | 'PS256' | 'ES256' | 'EdDSA'
  /**
   * DPoP (RFC 9449). Proofs are always accepted; `requireNonce` makes the token and PAR
   * endpoints demand a server nonce (`use_dpop_nonce`, `DPoP-Nonce`); `proofMaxAge` bounds `iat`.
   */
  dpop?: Partial<OptionsData['dpop']>
  /**
   * Pushed authorization requests (RFC 9126): `required` makes every client push (each client
   * can also be registered with `require_pushed_authorization_requests`); `ttl` is the request
   * URI's lifetime in seconds (default 30).
   */
  par?: Partial<OptionsData['par']>
  /**
   * Request objects (OIDC Core §6, RFC 9101; docs/request-objects.md): `request` by value,
   * signed with a key the client registered (`jwks` / `jwks_uri`), on by default; `request_uri`
   * only as a pushed request's (RFC 9126). `allowUnsigned` accepts `alg: none` (certification);
   * `requireSigned` makes every client send signed request objects (RFC 9101 §10.5).
   *
   * @example
   * requestObjects: { enabled: true, allowUnsigned: false, requireSigned: false }
   */
  requestObjects?: Partial<OptionsData['requestObjects']>
  /**
   * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP): a
   * `client_id` that is an https URL is resolved by fetching the JSON document at that URL
   * (through the SSRF-safe fetcher, `outbound`). Only public and `private_key_jwt` clients.
   * Default: off. `true` uses the defaults; an object sets the bounds.
   *
   * @example
   * clientIdMetadataDocuments: { maxBytes: 5120, minCacheSeconds: 60, maxCacheSeconds: 86400 }
   */
  clientIdMetadataDocuments?: boolean | {
    /** Largest accepted document, in bytes. Default 5120. */
    maxBytes?: number
    /** Upper bound on caching (Cache-Control max-age is honoured within the bounds). Default 86400. */
    maxCacheSeconds?: number
    /** Lower bound on caching: `no-store`, `no-cache`, `max-age=0` or no header still cache this long (0 = honour them). Default 60. */
    minCacheSeconds?: number
    /**
     * The host's trust policy, asked before anything is fetched: false refuses the client_id
     * URL (an error page at /authorize, `invalid_client` elsewhere; reason `not_allowed`).
     * @example allow: (url) => url.hostname === 'apps.example.com' || url.hostname.endsWith('.trusted.example')
     */
    allow?: ClientDocumentPolicy
  }
  /**
   * Prometheus metrics with prom-client (issue 19). Default off: no listener, hook or store
   * wrapper. `true`: a registry of the provider's own at `app.oidc.metrics.registry`.
   */
  metrics?: boolean | MetricsOptions
  /**
   * The device authorization grant (RFC 8628): `interval` is the polling interval a device is
   * given (default 5 s). The device code's lifetime is `ttl.deviceCode`; wrong user codes are
   * limited by `rateLimit.userCodeFailures` per browser and per IP.
   */
  deviceFlow?: Partial<OptionsData['deviceFlow']>
  /** Health: `route` mounts `{route}/live` and `{route}/ready`; `timeoutMs` bounds readiness's store ping (default 1000). */
  health?: Partial<OptionsData['health']>
  /**
   * Passkeys (WebAuthn): "Sign in with a passkey" and passkey autofill on the built-in login
   * page, an offer to add one after a password sign-in, and `app.oidc.passkeys` for a host's
   * own pages. Default: off.
   *
   * @example
   * passkeys: { store: new RedisPasskeyStore({ client: redis }), rpName: 'Acme ID' }
   */
  passkeys?: PasskeyOptions
  /**
   * The built-in account page at `/account` (off by default): the signed-in user sees the apps
   * they let in and their login sessions, and revokes or ends them. Same pages machinery as
   * login (brand, languages, `pages.templates.account`). See docs/connected-apps.md.
   *
   * @example
   * accountPage: true
   */
  accountPage?: boolean
}

type SameNames<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false
type Assert<Condition extends true> = Condition

/**
 * The documented interface and the schema (what `register` accepts at run time) name the same
 * options: an option added to one and not the other fails to compile here.
 */
export type OptionNamesAgree = Assert<SameNames<OidcProviderOptions & { [Name in keyof typeof fastifyRegisterOptions]?: unknown }, OptionsData>>

/** Options after defaults, as the provider uses them. */
export interface ResolvedOptions extends Omit<OptionsData, 'scopes' | 'metrics' | 'tokenExchange'> {
  findTrustedIssuer?: FindTrustedIssuer
  tokenExchange: { policy?: TokenExchangePolicy, idJagTtl: number }
  /** The supported scope names (from the `scopes` option, whatever its form). */
  scopes: string[]
  /** What each scope releases and its consent text. */
  scopeRegistry: ScopeRegistry
  interactions?: InteractionOptions
  tokenClaims: ClaimsHooks
  pages?: PagesOptions
  store: Store
  keys: KeySource
  users: UserAdapter
  registration: RegistrationPolicy | false
  findResourceServer?: FindResourceServer
  cors: CorsOptions
  /** `clientIdMetadataDocuments.allow`, when given. */
  clientDocumentPolicy?: ClientDocumentPolicy
  passkeys?: PasskeyOptions
  /** True when the plugin made the store itself (and so closes it). */
  ownsStore: boolean
  /** True when no cookie secret was configured and a random one was generated. */
  generatedCookieSecret: boolean
  /** The `metrics` option checked; undefined when metrics are off. */
  metrics: ResolvedMetricsOptions | undefined
}
