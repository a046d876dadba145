import Type from 'typebox'
import type { ProviderContext } from '../context.js'
import { OAuthError } from '../errors.js'
import { nowSeconds, sha256 } from '../crypto.js'
import { newRefreshToken, refreshTokenRecord, scopeSet } from '../tokens.js'
import type { GrantHandler } from './types.js'
import { userTokenResponse } from './issue.js'
import { checkKeyBinding, dpopJktOf } from '../dpop/provider.js'

const body = Type.Object({
  refresh_token: Type.String({ minLength: 1 }),
  scope: Type.Optional(Type.String()),
})

const invalidRefreshToken = (): OAuthError => new OAuthError('invalid_grant', 'the refresh token is invalid, expired, revoked, or was issued to another client')

/**
 * RFC 9700 §4.14.2: a refresh token used twice means it leaked; the whole grant (every refresh
 * and access token under it) is revoked, whichever of the two users is the attacker.
 */
async function reuseDetected (ctx: ProviderContext, clientId: string, grantId: string | undefined): Promise<never> {
  if (grantId !== undefined) await ctx.store.revokeGrant(grantId)
  ctx.audit('refresh_token.reused', { clientId, ...(grantId === undefined ? {} : { grantId }) })
  throw invalidRefreshToken()
}

/**
 * `grant_type=refresh_token`: RFC 6749 §6, with rotation and reuse detection (RFC 9700 §4.14.2).
 * Each use consumes the token and stores its successor in the same family in one atomic step.
 */
export const refreshTokenGrant = {
  grantType: 'refresh_token',
  body,
  // RFC 9700 §4.14.2: public clients may refresh because their tokens are sender-rotated.
  allowPublicClients: true,
  async handle (ctx, params, client, request) {
    const tokenHash = sha256(params.refresh_token)
    const state = await ctx.store.findRefreshToken(tokenHash)
    if (state === undefined) throw invalidRefreshToken()
    const record = state.record
    if (state.status === 'consumed') return await reuseDetected(ctx, client.client_id, record.grantId)
    // RFC 6749 §6: bound to the client it was issued to. Another client's attempt must not
    // consume (and so destroy) the legitimate client's token.
    if (record.clientId !== client.client_id) throw invalidRefreshToken()
    const now = nowSeconds()
    if (record.expiresAt <= now || record.familyExpiresAt <= now) throw invalidRefreshToken()
    const dpopJkt = dpopJktOf(request)
    checkKeyBinding(record.jkt, dpopJkt, 'refresh token')

    // RFC 6749 §6: the requested scope must not include any scope not originally granted.
    const granted = scopeSet(record.scope)
    let scope = record.scope
    if (params.scope !== undefined) {
      const requested = scopeSet(params.scope)
      if (requested.size === 0) throw new OAuthError('invalid_scope', 'scope is empty')
      const extra = [...requested].find((value) => !granted.has(value))
      if (extra !== undefined) throw new OAuthError('invalid_scope', `scope "${extra}" was not granted`)
      scope = [...requested].join(' ')
    }

    const grant = await ctx.store.getGrant(record.grantId)
    if (grant === undefined) throw invalidRefreshToken()

    // The successor keeps the original scope (RFC 6749 §6) and the family's absolute end.
    const successor = newRefreshToken()
    const rotation = await ctx.store.consumeRefreshToken(tokenHash, {
      tokenHash: successor.tokenHash,
      record: refreshTokenRecord(ctx, {
        clientId: record.clientId,
        grantId: record.grantId,
        accountId: record.accountId,
        scope: record.scope,
        authTime: record.authTime,
        ...(record.sessionId === undefined ? {} : { sessionId: record.sessionId }),
        familyExpiresAt: record.familyExpiresAt,
        ...(record.jkt === undefined ? {} : { jkt: record.jkt }),
      }),
    })
    // Someone consumed it between our read and now: a concurrent use is a reuse too.
    if (rotation.status === 'already_consumed') return await reuseDetected(ctx, client.client_id, rotation.grantId)
    if (rotation.status === 'not_found') throw invalidRefreshToken()

    return await userTokenResponse(ctx, {
      grantType: 'refresh_token',
      client,
      accountId: record.accountId,
      scope,
      // OpenID Connect Core §12.2: auth_time is the original authentication's; no nonce.
      authTime: record.authTime,
      grantId: record.grantId,
      refreshToken: successor.token,
      ...(dpopJkt === undefined ? {} : { dpopJkt }),
    })
  },
} satisfies GrantHandler<typeof body>
