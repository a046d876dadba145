import Type from 'typebox'
import type { ActorClaim, ClientRecord } from './store.js'

/** RFC 8693 §3: the token type identifiers this provider reads and writes. */
export const tokenTypes = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  refreshToken: 'urn:ietf:params:oauth:token-type:refresh_token',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  /** draft-ietf-oauth-identity-assertion-authz-grant §7 (IANA): an Identity Assertion JWT Authorization Grant. */
  idJag: 'urn:ietf:params:oauth:token-type:id-jag',
} as const

/** RFC 8693 §2.1 and RFC 7523 §2.1: the two grant types. */
export const tokenExchangeGrantType = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const jwtBearerGrantType = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

/** The ID-JAG profile's identifier, for `authorization_grant_profiles_supported` (MCP Enterprise-Managed Authorization). */
export const idJagGrantProfile = 'urn:ietf:params:oauth:grant-profile:id-jag'

/** draft-ietf-oauth-identity-assertion-authz-grant §3: the `typ` header of an ID-JAG. */
export const idJagType = 'oauth-id-jag+jwt'

/**
 * One rule of the workload-identity profile: which workloads (by `sub`) of a trusted issuer may
 * get a token, for which resources, with which scopes.
 *
 * @example
 * { subjectPattern: '^spiffe://prod\\.example/ns/billing/.+$', resources: ['https://api.example.com/'], scopes: ['invoices:read'] }
 */
export interface WorkloadRule {
  /** The workload's exact `sub`. One of `subject` or `subjectPattern`. */
  subject?: string
  /** A regular expression the whole `sub` must match (anchor it with ^ and $). */
  subjectPattern?: string
  /** RFC 8707 resources the workload may get a token for (declared resource servers). */
  resources: string[]
  /** The most the token may carry; the request and the resource narrow it further. */
  scopes: string[]
}

/**
 * An issuer whose JWTs this provider accepts: Identity Assertion JWT Authorization Grants
 * (`idJag`), workload JWTs (`workloads`) and subject tokens of a token exchange
 * (`subjectTokens`). Its keys come from `jwks` (static), `jwksUri`, or else its discovery
 * document (`{issuer}/.well-known/openid-configuration`, then `oauth-authorization-server`),
 * fetched through the SSRF-safe fetcher and cached.
 *
 * @example
 * trustedIssuers: [{ issuer: 'https://idp.example.com', idJag: true }]
 */
export interface TrustedIssuer {
  /** The `iss` its JWTs carry, compared exactly. */
  issuer: string
  /** Its public keys inline (a JWK Set). */
  jwks?: { keys: Array<Record<string, unknown>> }
  /** Where its public keys are published. Default: the `jwks_uri` of its discovery document. */
  jwksUri?: string
  /** Accepted `alg` values, asymmetric only. Default: every asymmetric algorithm. */
  algorithms?: string[]
  /** Accept its ID-JAGs at the jwt-bearer grant (an enterprise identity provider). Default false. */
  idJag?: boolean
  /** Accept its JWTs as `subject_token` / `actor_token` of type `jwt` in a token exchange. Default false. */
  subjectTokens?: boolean
  /** Workload-identity profile: which of its workloads may get tokens at the jwt-bearer grant. */
  workloads?: WorkloadRule[]
  /** Longest accepted assertion lifetime (`exp` − now), in seconds. Default 600. */
  maxAssertionLifetime?: number
}

/** Looks up trusted issuers kept elsewhere; undefined (or null) for an unknown one. */
export type FindTrustedIssuer = (issuer: string) => Promise<TrustedIssuer | undefined | null>

/** A trusted issuer as the provider uses it (checked once). */
export interface KnownTrustedIssuer {
  issuer: string
  algorithms: readonly string[]
  idJag: boolean
  subjectTokens: boolean
  workloads: ReadonlyArray<{ matches: (sub: string) => boolean, resources: readonly string[], scopes: readonly string[] }>
  maxAssertionLifetime: number
  jwks?: { keys: Array<Record<string, unknown>> }
  jwksUri?: string
}

/** The trusted-issuer registry (`ctx.trust`, built once by trust/registry.ts). */
export interface TrustRegistry {
  /** True when any issuer is trusted (a static list or a lookup function). */
  readonly configured: boolean
  find (issuer: string): Promise<KnownTrustedIssuer | undefined>
  /** The issuer's public keys; fetched again (within a cooldown) when they lack `kid`. */
  keys (issuer: KnownTrustedIssuer, kid: string | undefined): Promise<Array<Record<string, unknown>>>
}

/** The static `trustedIssuers` option; code checks the rest at startup. */
export const TrustedIssuerSchema = Type.Object({
  issuer: Type.String({ minLength: 1, description: 'The iss its JWTs carry (exact).' }),
  jwks: Type.Optional(Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) }, { additionalProperties: false, description: 'Its public keys inline.' })),
  jwksUri: Type.Optional(Type.String({ description: 'Where its keys are published. Default: from its discovery document.' })),
  algorithms: Type.Optional(Type.Array(Type.String(), { description: 'Accepted alg values (asymmetric only).' })),
  idJag: Type.Optional(Type.Boolean({ description: 'Accept its Identity Assertion JWT Authorization Grants.' })),
  subjectTokens: Type.Optional(Type.Boolean({ description: 'Accept its JWTs as token-exchange subject and actor tokens.' })),
  workloads: Type.Optional(Type.Array(Type.Object({
    subject: Type.Optional(Type.String({ minLength: 1 })),
    subjectPattern: Type.Optional(Type.String({ minLength: 1 })),
    resources: Type.Array(Type.String()),
    scopes: Type.Array(Type.String()),
  }, { additionalProperties: false }), { description: 'Workload-identity rules: sub → resources and scopes.' })),
  maxAssertionLifetime: Type.Optional(Type.Integer({ minimum: 10, maximum: 86400, description: 'Longest accepted assertion lifetime (seconds). Default 600.' })),
}, { additionalProperties: false })

/** An `act` claim (RFC 8693 §4.1); declared with the store's records, which keep it (refresh families). */
export type { ActorClaim } from './store.js'

/** The token a token exchange starts from, as the policy sees it. */
export interface ExchangeSubject {
  /** RFC 8693 §3 type identifier of the subject token. */
  tokenType: string
  /** Who the token is about. */
  sub: string
  /** Its issuer: ours, or a trusted one. */
  issuer: string
  /** The client it was issued to (ours), when known. */
  clientId?: string
  /** Its `aud`, when it has one. */
  audience?: string | string[]
  scope?: string
  /** Its own `act`: it was itself issued to an actor. */
  act?: ActorClaim
}

/** What a token-exchange policy decides about (RFC 8693 §2.1). */
export interface TokenExchangeRequest {
  /** The authenticated client asking. */
  client: ClientRecord
  subject: ExchangeSubject
  /** The actor token's party, when one was sent. */
  actor?: ActorClaim
  /** `access_token`, or `id-jag` (the type identifier's last segment). */
  requestedTokenType: 'access_token' | 'id-jag'
  /** The normalised RFC 8707 resource the token is for (access tokens), or the `resource` named at the other server (ID-JAG). */
  resource?: string
  /** ID-JAG: the other authorization server's issuer (`audience`). */
  audience?: string
  /** The scope the token would carry (already no wider than the subject's, for our tokens). */
  scope: string
  /**
   * Whether the safe default alone would allow it (a resource server exchanging a token it
   * received, for a downstream resource, as the actor, within its registered scopes), so a
   * policy can keep the default and add its own cases.
   */
  allowedByDefault: boolean
}

/**
 * A policy's yes. Every member may only narrow: `scope` is intersected with the proposed one.
 * `impersonate` issues the token without `act` (RFC 8693 §1.1 impersonation); `clientId` is the
 * `client_id` an ID-JAG names at the other authorization server (default: the same client_id,
 * as with Client ID Metadata Document URLs).
 */
export interface TokenExchangeDecision {
  scope?: string
  impersonate?: boolean
  clientId?: string
  /** Access-token (or ID-JAG) lifetime in seconds, at most the default. */
  ttl?: number
  /**
   * RFC 8693 §2.2.1 (`refresh_token` is optional, the server's choice): issue one with the
   * exchanged access token. Only for a subject of ours under a live grant, to a client
   * registered for the `refresh_token` grant; otherwise no refresh token. It starts a token
   * family of its own under the subject's grant (revoking that grant ends it); each refresh
   * gives an access token of the same shape (audience, `act`, scope at most the exchanged one),
   * never an ID token. Never for an ID-JAG.
   */
  refreshToken?: boolean
}

/**
 * The host's token-exchange policy: called for every exchange; `false` (or undefined) refuses
 * it (`invalid_grant`), an `OAuthError` thrown is answered as is.
 *
 * @example
 * policy: async ({ allowedByDefault, client, requestedTokenType }) =>
 *   allowedByDefault || (requestedTokenType === 'id-jag' && client.client_id === 'agent') ? {} : false
 */
export type TokenExchangePolicy = (request: TokenExchangeRequest) => Promise<TokenExchangeDecision | false | undefined> | TokenExchangeDecision | false | undefined
