import type { ClientRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'
import { nowSeconds, randomToken, sha256 } from '../tokens/crypto.js'
import { scopeSet, type TokenResponse } from '../tokens/issue.js'
import { userTokenResponse } from './issue.js'
import { narrowToClient, newFamilyRefreshToken } from '../tokens/refresh-token.js'

const invalidRefreshToken = (): OAuthError => new OAuthError('invalid_grant', 'the refresh token is invalid, expired, revoked, or was issued to another client')

/**
 * A refresh token issued before token families (an opaque value stored by its hash): honoured
 * once more under the rules it was issued with (single use, a reuse revokes its grant), and
 * answered with the first token of a new family, so every client moves to families at its next
 * refresh and nobody is signed out by the upgrade. No grace window for these.
 */
export async function legacyRefresh (
  ctx: ProviderContext,
  client: ClientRecord,
  refreshToken: string,
  scopeParameter: string | undefined
): Promise<TokenResponse> {
  const tokenHash = sha256(refreshToken)
  const state = await ctx.store.findRefreshToken(tokenHash)
  if (state === undefined) throw invalidRefreshToken()
  const { record } = state
  if (record.clientId !== client.client_id) throw invalidRefreshToken()
  const now = nowSeconds()
  if (record.expiresAt <= now || record.familyExpiresAt <= now) throw invalidRefreshToken()
  const granted = scopeSet(record.scope)
  const extra = [...scopeSet(scopeParameter)].find((value) => !granted.has(value))
  if (extra !== undefined) throw new OAuthError('invalid_scope', `scope '${extra}' was not granted`)
  if (scopeParameter !== undefined && scopeSet(scopeParameter).size === 0) throw new OAuthError('invalid_scope', 'scope is empty')
  if (await ctx.store.getGrant(record.grantId) === undefined) throw invalidRefreshToken()

  const consumed = state.status === 'active' ? await ctx.store.consumeRefreshToken(tokenHash) : { status: 'already_consumed' as const }
  if (consumed.status !== 'consumed') {
    // RFC 9700 §4.14.2, as these tokens always had it: their family was the grant.
    await ctx.store.revokeGrant(record.grantId)
    ctx.audit('refresh_token.reused', { clientId: client.client_id, grantId: record.grantId })
    throw invalidRefreshToken()
  }

  const familyId = randomToken(16)
  const first = newFamilyRefreshToken(record.grantId, familyId)
  const saved = ctx.store.startRefreshFamily({
    familyId,
    grantId: record.grantId,
    clientId: record.clientId,
    accountId: record.accountId,
    scope: record.scope,
    authTime: record.authTime,
    ...(record.sessionId === undefined ? {} : { sessionId: record.sessionId }),
    offline: granted.has('offline_access'),
    createdAt: now,
    expiresAt: record.familyExpiresAt,
  }, { tokenHash: first.tokenHash, issuedAt: now, expiresAt: Math.min(now + ctx.options.ttl.refreshToken, record.familyExpiresAt) })
  saved.catch(() => {})
  return await userTokenResponse(ctx, {
    grantType: 'refresh_token',
    client,
    accountId: record.accountId,
    scope: narrowToClient(client, scopeParameter === undefined ? record.scope : [...scopeSet(scopeParameter)].join(' ')),
    authTime: record.authTime,
    grantId: record.grantId,
    familyId,
    refreshToken: first.token,
    pending: saved,
  })
}
