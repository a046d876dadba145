import type { RefreshTokenRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { nowSeconds, sha256 } from './crypto.js'
import type { JWTPayload } from 'jose'
import { verifyAccessTokenPayload } from './verify.js'
import type { AccessTokenClaims } from './issue.js'
import { parseRefreshToken } from './refresh-token.js'

/**
 * Token lookups shared by introspection (RFC 7662) and revocation (RFC 7009): only tokens that
 * are live and belong to the asking client are found, so another client's token looks exactly
 * like an unknown one.
 */
export type FoundToken =
  /** `payload`: the whole verified token, read once (introspection's extension members). */
  | { type: 'access_token', claims: AccessTokenClaims, payload: JWTPayload }
  /** `familyId` is set for tokens of a refresh family (all tokens issued since families exist). */
  | { type: 'refresh_token', tokenHash: string, record: RefreshTokenRecord, familyId?: string }

export type TokenTypeHint = 'access_token' | 'refresh_token'

/**
 * RFC 7662 §2.1, RFC 7009 §2.1: the hint only orders the search; an unknown hint is ignored and
 * a wrong one still finds the token.
 */
export async function findClientToken (
  ctx: ProviderContext,
  token: string,
  clientId: string,
  hint: string | undefined
): Promise<FoundToken | undefined> {
  const order: TokenTypeHint[] = hint === 'refresh_token'
    ? ['refresh_token', 'access_token']
    : ['access_token', 'refresh_token']
  for (const type of order) {
    const found = type === 'access_token'
      ? await findAccessToken(ctx, token, clientId)
      : await findRefreshToken(ctx, token, clientId)
    if (found !== undefined) return found
  }
  return undefined
}

async function findAccessToken (ctx: ProviderContext, token: string, clientId: string): Promise<FoundToken | undefined> {
  const verified = await verifyAccessTokenPayload(ctx, token)
  if (verified === undefined || verified.claims.client_id !== clientId) return undefined
  return { type: 'access_token', claims: verified.claims, payload: verified.payload }
}

async function findRefreshToken (ctx: ProviderContext, token: string, clientId: string): Promise<FoundToken | undefined> {
  const parsed = parseRefreshToken(token)
  if (parsed !== undefined) {
    // One store step: the family's current token, with its family and grant alive.
    const found = await ctx.store.findFamilyRefreshToken(parsed.grantId, parsed.familyId, parsed.tokenHash)
    if (found === undefined || found.family.clientId !== clientId || found.token.expiresAt <= nowSeconds()) return undefined
    const { family, token: current } = found
    return {
      type: 'refresh_token',
      tokenHash: parsed.tokenHash,
      familyId: family.familyId,
      record: {
        clientId: family.clientId,
        grantId: family.grantId,
        accountId: family.accountId,
        scope: family.scope,
        authTime: family.authTime,
        ...(family.sessionId === undefined ? {} : { sessionId: family.sessionId }),
        issuedAt: current.issuedAt,
        expiresAt: current.expiresAt,
        familyExpiresAt: family.expiresAt,
      },
    }
  }
  // Refresh tokens issued before families (opaque values, stored by hash alone).
  const tokenHash = sha256(token)
  const state = await ctx.store.findRefreshToken(tokenHash)
  if (state === undefined || state.status !== 'active') return undefined
  const { record } = state
  const now = nowSeconds()
  if (record.clientId !== clientId || record.expiresAt <= now || record.familyExpiresAt <= now) return undefined
  if (await ctx.store.getGrant(record.grantId) === undefined) return undefined
  return { type: 'refresh_token', tokenHash, record }
}
