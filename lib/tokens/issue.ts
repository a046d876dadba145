import type { ClientRecord, RefreshTokenRecord } from '../contracts/store.js'
import type { SigningAlgorithm } from '../contracts/keys.js'
import type { ProviderContext } from '../contracts/context.js'
import type { SigningKey } from '../contracts/keys.js'
import { signJwt } from './jwt.js'
import { digest as hashOf, nowSeconds, randomToken, sha256 } from './crypto.js'
import { OAuthError } from '../contracts/errors.js'
import type { ActorClaim } from '../contracts/trust.js'
import { BoundedCache } from './bounded-cache.js'

/** RFC 9068 §2.1: the `typ` header of JWT access tokens. */
export const accessTokenType = 'at+jwt'

/** The successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3). */
export interface TokenResponse {
  access_token: string
  /** `DPoP` when the access token is bound to a DPoP key (RFC 9449 §5); `N_A` for an ID-JAG (RFC 8693 §2.2.1). */
  token_type: 'Bearer' | 'DPoP' | 'N_A'
  /** RFC 8693 §2.2.1: what a token exchange issued. */
  issued_token_type?: string
  expires_in: number
  scope?: string
  id_token?: string
  refresh_token?: string
}

/** Claims of the access tokens this provider issues (RFC 9068 §2.2). */
export interface AccessTokenClaims {
  iss: string
  sub: string
  /** One audience, or the resource and the userinfo endpoint (`includeUserinfoAudience`). */
  aud: string | string[]
  exp: number
  iat: number
  jti: string
  client_id: string
  scope?: string
  auth_time?: number
  /** Private claim: the grant the token lives under; revoking the grant kills the token. */
  grant_id?: string
  /** Private claim: the token family (one authorization code's descendants); revoking it kills the token. */
  family_id?: string
  /** Private claim: the claims the `claims` parameter asked for at userinfo (OIDC Core §5.5). */
  userinfo_claims?: string[]
  /** RFC 9449 §6.1: the thumbprint of the DPoP key the token is bound to. */
  cnf?: { jkt: string }
  /** RFC 8693 §4.1: the acting party (delegation), earlier actors nested. */
  act?: ActorClaim
}

export interface AccessTokenInput {
  client: ClientRecord
  /** The user, or the client itself for client_credentials (RFC 9068 §2.2). */
  sub: string
  scope: string
  authTime?: number
  grantId?: string
  /** `aud`: the RFC 8707 resource the token is for. Default: `accessTokenAudience`, or the issuer. */
  audience?: string | string[]
  /** Lifetime in seconds (a resource server's own). Default: `ttl.accessToken`. */
  ttl?: number
  familyId?: string
  /** Extra claims (the `tokenClaims.accessToken` hook's); the registered ones above always win. */
  claims?: Record<string, unknown>
  /** RFC 9449 §6: binds the token to this DPoP key thumbprint (`cnf.jkt`). */
  dpopJkt?: string
  /** RFC 8693 §4.1: the actor of a delegated token. */
  act?: ActorClaim
}

export interface IssuedAccessToken {
  token: string
  claims: AccessTokenClaims
  expiresIn: number
}

/**
 * Signs an RFC 9068 access token (`typ: at+jwt`, RFC 9068 §2.1–2.2) with the current key.
 *
 * @example
 * const { token } = await issueAccessToken(ctx, { client, sub: 'user-1', scope: 'openid', grantId })
 */
export async function issueAccessToken (ctx: ProviderContext, input: AccessTokenInput): Promise<IssuedAccessToken> {
  const iat = nowSeconds()
  const expiresIn = input.ttl ?? ctx.options.ttl.accessToken
  const claims: AccessTokenClaims = {
    iss: ctx.issuer,
    sub: input.sub,
    aud: input.audience ?? ctx.options.accessTokenAudience ?? ctx.issuer,
    exp: iat + expiresIn,
    iat,
    jti: randomToken(16),
    client_id: input.client.client_id,
  }
  // Optional members assigned, not spread from temporary objects: the same members in the same
  // order, without an allocation per member on every token.
  if (input.scope !== '') claims.scope = input.scope
  if (input.authTime !== undefined) claims.auth_time = input.authTime
  if (input.grantId !== undefined) claims.grant_id = input.grantId
  if (input.familyId !== undefined) claims.family_id = input.familyId
  if (input.dpopJkt !== undefined) claims.cnf = { jkt: input.dpopJkt }
  if (input.act !== undefined) claims.act = input.act
  // The hook's claims first, then ours over them (ours always win); no hook claims: ours alone.
  const payload = input.claims === undefined || isEmpty(input.claims) ? claims : { ...input.claims, ...claims }
  const token = await signJwt(accessTokenSigner(ctx), accessTokenType, payload as unknown as Record<string, unknown>)
  return { token, claims, expiresIn }
}

export interface IdTokenInput {
  client: ClientRecord
  sub: string
  authTime: number
  nonce?: string
  /** The access token issued with it, for `at_hash` (none when the ID token goes through the front channel). */
  accessToken?: string
  /** The authorization code issued with it at the authorization endpoint, for `c_hash` (OIDC Core §3.3.2.11). */
  code?: string
  /** The login session's `sid` (OIDC Back-Channel Logout 1.0 §2.1), when there is one. */
  sid?: string
  /** OIDC Core §2: how the user authenticated. */
  acr?: string
  amr?: string[]
  /** Extra claims (scope claims, OIDC Core §5.5 claims, the hook's); registered ones always win. */
  claims?: Record<string, unknown>
}

/**
 * Signs an ID token (OpenID Connect Core §2, §3.1.3.6 for `at_hash`, §3.3.2.11 for `c_hash`).
 * `azp` names the client the token was issued to. The token endpoint's and the authorization
 * endpoint's (response types with `id_token`) are made here alike.
 *
 * @example
 * const idToken = await issueIdToken(ctx, { client, sub, authTime, nonce, accessToken })
 */
export async function issueIdToken (ctx: ProviderContext, input: IdTokenInput): Promise<string> {
  const iat = nowSeconds()
  const key = idTokenSigner(ctx, input.client)
  const alg = key.alg
  const payload: Record<string, unknown> = input.claims === undefined ? {} : { ...input.claims }
  payload.iss = ctx.issuer
  payload.sub = input.sub
  payload.aud = input.client.client_id
  payload.exp = iat + ctx.options.ttl.idToken
  payload.iat = iat
  payload.auth_time = input.authTime
  if (input.nonce !== undefined) payload.nonce = input.nonce
  if (input.accessToken !== undefined) payload.at_hash = atHash(input.accessToken, alg)
  // OIDC Core §3.3.2.11: the same left-half hash, of the code issued beside the ID token.
  if (input.code !== undefined) payload.c_hash = atHash(input.code, alg)
  payload.azp = input.client.client_id
  if (input.sid !== undefined) payload.sid = input.sid
  if (input.acr !== undefined) payload.acr = input.acr
  if (input.amr !== undefined) payload.amr = input.amr
  return await signJwt(key, 'JWT', payload)
}

function isEmpty (value: object): boolean {
  for (const name in value) if (Object.hasOwn(value, name)) return false
  return true
}

/**
 * The access tokens' signer: `accessTokenSigningAlg` when the key source holds a key for it,
 * else the key source's default signer (a rotation that dropped the algorithm keeps signing).
 */
export function accessTokenSigner (ctx: ProviderContext): SigningKey {
  const wanted = ctx.options.accessTokenSigningAlg
  return (wanted === undefined ? undefined : ctx.keys.signingKey(wanted)) ?? ctx.keys.signingKey()
}

/**
 * The ID token's signer: the client's `id_token_signed_response_alg` (OpenID Connect Dynamic
 * Client Registration §2), else RS256 (that section's default) when held, else the default
 * signer. A registered algorithm the provider no longer holds a key for is an error, never a
 * silent switch: the client would reject the token.
 */
export function idTokenSigner (ctx: ProviderContext, client: ClientRecord): SigningKey {
  const registered = client.id_token_signed_response_alg
  if (registered !== undefined) {
    // Registration accepted only algorithms the ring held (lib/tokens/algorithms.ts); a reload may drop one.
    const key = ctx.keys.signingKey(registered as SigningAlgorithm)
    if (key === undefined) throw new OAuthError('unauthorized_client', `the provider holds no ${registered} key for this client's id_token_signed_response_alg`)
    return key
  }
  return ctx.keys.signingKey('RS256') ?? ctx.keys.signingKey()
}

/**
 * OpenID Connect Core §3.1.3.6: base64url of the left-most half of the hash of the access
 * token's ASCII octets, the hash being the one of the ID token's `alg` (SHA-256 for *256).
 * EdDSA names no hash; with Ed25519 the OpenID convention is SHA-512 (Ed25519's own hash,
 * RFC 8032 §5.1), of which the left-most 256 bits are used: what oidc-token-hash (the hash
 * module of node-oidc-provider and openid-client v5) computes and checks.
 */
export function atHash (accessToken: string, alg: SigningAlgorithm): string {
  const digest = hashOf(alg === 'EdDSA' ? 'sha512' : `sha${alg.slice(2)}`, Buffer.from(accessToken, 'ascii'), 'buffer')
  return digest.subarray(0, digest.length / 2).toString('base64url')
}

/** A new opaque refresh token (256 bits) and the hash it is stored under. */
export function newRefreshToken (): { token: string, tokenHash: string } {
  const token = randomToken(32)
  return { token, tokenHash: sha256(token) }
}

/**
 * The refresh-token record for a fresh issue or a rotation: it never outlives its family's
 * absolute end (RFC 9700 §4.14.2 bounds a family's lifetime).
 */
export function refreshTokenRecord (
  ctx: ProviderContext,
  base: Omit<RefreshTokenRecord, 'issuedAt' | 'expiresAt'>
): RefreshTokenRecord {
  const issuedAt = nowSeconds()
  return {
    ...base,
    issuedAt,
    expiresAt: Math.min(issuedAt + ctx.options.ttl.refreshToken, base.familyExpiresAt),
  }
}

/** Splits a space-delimited scope string (RFC 6749 §3.3) into its distinct values. */
export function scopeSet (scope: string | undefined): Set<string> {
  return new Set((scope ?? '').split(' ').filter((value) => value !== ''))
}

/**
 * `scopeSet`, shared and never to be changed, for the checks that only read it: a token
 * request splits its grant's scope string four times (claims, ID token, family, client), and
 * a provider sees few distinct scope strings. Kept by the string; long strings are not kept,
 * and the map is dropped whole when it fills (scope strings can come from requests).
 */
const sharedScopes = new BoundedCache<ReadonlySet<string>>(500, 512)

export function scopeValues (scope: string): ReadonlySet<string> {
  return sharedScopes.memo(scope, scopeSet)
}

/**
 * The client's registered scopes as a set, built once per client record instead of on every
 * request that checks a scope against them. The scope string is compared on every use, so a
 * record whose `scope` changed in place gets its new set.
 */
const registeredScopes = new WeakMap<ClientRecord, { scope: string, set: ReadonlySet<string> }>()

export function clientScopes (client: ClientRecord): ReadonlySet<string> {
  const cached = registeredScopes.get(client)
  if (cached !== undefined && cached.scope === client.scope) return cached.set
  const set = scopeSet(client.scope)
  registeredScopes.set(client, { scope: client.scope, set })
  return set
}
