import { inSpan } from '../contracts/tracing.js'
import type { JWTPayload } from 'jose'
import type { ProviderContext } from '../contracts/context.js'
import { accessTokenType, type AccessTokenClaims } from './issue.js'
import type { ActorClaim } from '../contracts/trust.js'

/**
 * Checks an access token this provider issued: signature by one of our published keys, `typ`
 * `at+jwt`, our `iss`, not expired (RFC 9068 §4), well-formed claims, and still alive (its `jti`
 * not denied and its grant not revoked). Returns undefined for anything else, whatever the reason,
 * so callers answer with one RFC error and never reveal why.
 *
 * `aud` is not checked: the provider's own endpoints (userinfo, introspection, revocation) accept
 * every access token it issued, whatever `accessTokenAudience` the resource servers expect.
 *
 * @example
 * const claims = await verifyAccessToken(ctx, token)
 * if (claims === undefined) throw invalidToken()
 */
export async function verifyAccessToken (ctx: ProviderContext, token: string): Promise<AccessTokenClaims | undefined> {
  return (await verifyAccessTokenPayload(ctx, token))?.claims
}

/** A live access token: its checked claims, and the whole verified payload they were read from. */
export interface VerifiedAccessToken {
  claims: AccessTokenClaims
  /** Every claim of the token, the host's `tokenClaims` hook's included (introspection's extension members). */
  payload: JWTPayload
}

/**
 * `verifyAccessToken` with the verified payload beside the claims, for the caller that needs the
 * other members too (introspection), so the token is decoded once, not verified and decoded again.
 */
export async function verifyAccessTokenPayload (ctx: ProviderContext, token: string): Promise<VerifiedAccessToken | undefined> {
  // No shape check of our own: the verifier's first step is the same one (three base64url
  // segments), so an opaque refresh token or garbage never reaches a JSON parser either way.
  const payload = await inSpan('oidc.jwt.verify', { 'oidc.jwt.typ': accessTokenType }, async (span) => {
    const verified = await ctx.keys.verifier.verify(token, { typ: accessTokenType })
    span.setAttribute('oidc.jwt.valid', verified !== undefined)
    return verified
  })
  if (payload === undefined) return undefined
  const claims = asAccessTokenClaims(payload)
  if (claims === undefined) return undefined
  // Checked on every call, never cached: a revocation is seen by the very next request.
  if (await ctx.store.isAccessTokenRevoked(claims.jti, claims.grant_id, claims.family_id)) return undefined
  return { claims, payload }
}

/** Narrows a verified payload to our claim set; a token missing a required claim is not ours. */
function asAccessTokenClaims (payload: JWTPayload): AccessTokenClaims | undefined {
  const { sub, aud, exp, iat, jti, iss } = payload
  const record = payload as Record<string, unknown>
  const clientId = record.client_id
  const scope = record.scope
  const grantId = record.grant_id
  const familyId = record.family_id
  const authTime = record.auth_time
  const userinfoClaims = record.userinfo_claims
  if (typeof iss !== 'string' || typeof sub !== 'string' || !isAudience(aud) || typeof exp !== 'number' ||
    typeof iat !== 'number' || typeof jti !== 'string' || typeof clientId !== 'string') return undefined
  if (scope !== undefined && typeof scope !== 'string') return undefined
  if (grantId !== undefined && typeof grantId !== 'string') return undefined
  if (familyId !== undefined && typeof familyId !== 'string') return undefined
  if (authTime !== undefined && typeof authTime !== 'number') return undefined
  if (userinfoClaims !== undefined && !(Array.isArray(userinfoClaims) && userinfoClaims.every((name) => typeof name === 'string'))) return undefined
  // RFC 9449 §6.1: a DPoP-bound token names its key's thumbprint.
  const cnf = record.cnf as { jkt?: unknown } | undefined
  if (cnf !== undefined && (typeof cnf !== 'object' || cnf === null || typeof cnf.jkt !== 'string')) return undefined
  // Assigned member by member (same order as the spreads it replaces): one object per request
  // on the userinfo and introspection path, not one more per optional claim.
  const claims: AccessTokenClaims = { iss, sub, aud, exp, iat, jti, client_id: clientId }
  if (scope !== undefined) claims.scope = scope
  if (authTime !== undefined) claims.auth_time = authTime
  if (grantId !== undefined) claims.grant_id = grantId
  if (familyId !== undefined) claims.family_id = familyId
  if (userinfoClaims !== undefined) claims.userinfo_claims = userinfoClaims as string[]
  if (cnf !== undefined) claims.cnf = { jkt: cnf.jkt as string }
  const act = record.act
  if (act !== undefined) {
    if (!isActorClaim(act)) return undefined
    claims.act = act
  }
  return claims
}

/** RFC 8693 §4.1: `{ sub, iss?, act? }`, nested at most a few levels (ours never nest deeper). */
export function isActorClaim (value: unknown, depth = 0): value is ActorClaim {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || depth > 16) return false
  const { sub, iss, act } = value as Record<string, unknown>
  if (typeof sub !== 'string' || (iss !== undefined && typeof iss !== 'string')) return false
  return act === undefined || isActorClaim(act, depth + 1)
}

/** RFC 7519 §4.1.3: one string, or a non-empty array of strings (a token for an API and userinfo). */
function isAudience (aud: unknown): aud is string | string[] {
  return typeof aud === 'string' || (Array.isArray(aud) && aud.length > 0 && aud.every((value) => typeof value === 'string'))
}

/** RFC 6750 §2.1: `Authorization: Bearer <b64token>`; the scheme is case-insensitive. */
export type BearerHeader =
  | { kind: 'none' }
  | { kind: 'bearer', token: string }
  | { kind: 'malformed' }

export function parseBearerHeader (header: string | undefined): BearerHeader {
  if (header === undefined) return { kind: 'none' }
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header)
  if (match !== null) return { kind: 'bearer', token: match[1] as string }
  // Another scheme (Basic, DPoP...) is not a Bearer credential: treated as no credential.
  if (!/^Bearer(\s|$)/i.test(header)) return { kind: 'none' }
  return { kind: 'malformed' }
}
