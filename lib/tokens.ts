import { createHash } from 'node:crypto'
import type { ClientRecord, RefreshTokenRecord } from './adapters/store/types.js'
import type { SigningAlgorithm } from './adapters/keys/types.js'
import type { ProviderContext } from './context.js'
import { signJwt } from './jwt.js'
import { nowSeconds, randomToken, sha256 } from './crypto.js'

/** RFC 9068 §2.1: the `typ` header of JWT access tokens. */
export const accessTokenType = 'at+jwt'

/** The successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3). */
export interface TokenResponse {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
  scope?: string
  id_token?: string
  refresh_token?: string
}

/** Claims of the access tokens this provider issues (RFC 9068 §2.2). */
export interface AccessTokenClaims {
  iss: string
  sub: string
  aud: string
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
}

export interface AccessTokenInput {
  client: ClientRecord
  /** The user, or the client itself for client_credentials (RFC 9068 §2.2). */
  sub: string
  scope: string
  authTime?: number
  grantId?: string
  /** `aud`: the RFC 8707 resource the token is for. Default: `accessTokenAudience`, or the issuer. */
  audience?: string
  /** Lifetime in seconds (a resource server's own). Default: `ttl.accessToken`. */
  ttl?: number
  familyId?: string
  /** Extra claims (the `tokenClaims.accessToken` hook's); the registered ones above always win. */
  claims?: Record<string, unknown>
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
    ...(input.scope === '' ? {} : { scope: input.scope }),
    ...(input.authTime === undefined ? {} : { auth_time: input.authTime }),
    ...(input.grantId === undefined ? {} : { grant_id: input.grantId }),
    ...(input.familyId === undefined ? {} : { family_id: input.familyId }),
  }
  const token = await signJwt(ctx.keys.signingKey, accessTokenType, { ...input.claims, ...claims })
  return { token, claims, expiresIn }
}

export interface IdTokenInput {
  client: ClientRecord
  sub: string
  authTime: number
  nonce?: string
  /** The access token issued with it, for `at_hash`. */
  accessToken: string
  /** The login session's `sid` (OIDC Back-Channel Logout 1.0 §2.1), when there is one. */
  sid?: string
  /** OIDC Core §2: how the user authenticated. */
  acr?: string
  amr?: string[]
  /** Extra claims (scope claims, OIDC Core §5.5 claims, the hook's); registered ones always win. */
  claims?: Record<string, unknown>
}

/**
 * Signs an ID token (OpenID Connect Core §2, §3.1.3.6 for `at_hash`). `azp` names the client
 * the token was issued to.
 *
 * @example
 * const idToken = await issueIdToken(ctx, { client, sub, authTime, nonce, accessToken })
 */
export async function issueIdToken (ctx: ProviderContext, input: IdTokenInput): Promise<string> {
  const iat = nowSeconds()
  const alg = ctx.keys.signingKey.alg
  return await signJwt(ctx.keys.signingKey, 'JWT', {
    ...input.claims,
    iss: ctx.issuer,
    sub: input.sub,
    aud: input.client.client_id,
    exp: iat + ctx.options.ttl.idToken,
    iat,
    auth_time: input.authTime,
    ...(input.nonce === undefined ? {} : { nonce: input.nonce }),
    at_hash: atHash(input.accessToken, alg),
    azp: input.client.client_id,
    ...(input.sid === undefined ? {} : { sid: input.sid }),
    ...(input.acr === undefined ? {} : { acr: input.acr }),
    ...(input.amr === undefined ? {} : { amr: input.amr }),
  })
}

/**
 * OpenID Connect Core §3.1.3.6: base64url of the left-most half of the hash of the access
 * token's ASCII octets, the hash being the one of the ID token's `alg` (SHA-256 for *256).
 */
export function atHash (accessToken: string, alg: SigningAlgorithm): string {
  const digest = createHash(`sha${alg.slice(2)}`).update(accessToken, 'ascii').digest()
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
