import Type from 'typebox'
import type { ClientRecord } from '../adapters/store/types.js'
import type { ProviderContext } from '../context.js'
import { OAuthError } from '../errors.js'
import { nowSeconds, sha256 } from '../crypto.js'
import { verifyPkce } from '../pkce.js'
import { newRefreshToken, refreshTokenRecord } from '../tokens.js'
import type { GrantHandler } from './types.js'
import { userTokenResponse } from './issue.js'
import { checkKeyBinding, dpopJktOf } from '../dpop/provider.js'

const body = Type.Object({
  code: Type.String({ minLength: 1 }),
  redirect_uri: Type.String({ minLength: 1 }),
  code_verifier: Type.String({ minLength: 1 }),
})

/** The `markUsed` key recording that a code was presented again (a replay) after its first use. */
const replayMark = (codeHash: string): string => `code-replay:${codeHash}`

/** One message for every code failure: the client learns nothing about which check failed. */
const invalidCode = (): OAuthError => new OAuthError('invalid_grant', 'the authorization code is invalid, expired, already used, or was issued to another client or redirect_uri')

/**
 * `grant_type=authorization_code`: RFC 6749 §4.1.3, RFC 7636 §4.6 (PKCE is required for every
 * client, so `code_verifier` is too), OpenID Connect Core §3.1.3.
 */
export const authorizationCodeGrant = {
  grantType: 'authorization_code',
  body,
  // Public clients prove possession through PKCE instead of a secret (RFC 7636 §1, RFC 9700 §2.1.1).
  allowPublicClients: true,
  async handle (ctx, params, client, request) {
    const codeHash = sha256(params.code)
    const result = await ctx.store.consumeCode(codeHash)
    if (result.status === 'not_found') throw invalidCode()
    if (result.status === 'already_consumed') {
      // RFC 6749 §4.1.2: a code used twice revokes every token issued from its first use. The
      // mark comes first: the first redemption, still running on another instance, reads it to
      // tell "revoked by this replay" from "consent revoked before the code was redeemed".
      if (result.grantId !== undefined) {
        await ctx.store.markUsed(replayMark(codeHash), nowSeconds() + ctx.options.ttl.code)
        await ctx.store.revokeGrant(result.grantId)
      }
      ctx.audit('code.replayed', { clientId: client.client_id, ...(result.grantId === undefined ? {} : { grantId: result.grantId }) })
      throw invalidCode()
    }
    const code = result.record
    const bound = code.clientId === client.client_id &&
      code.redirectUri === params.redirect_uri && // RFC 6749 §4.1.3: identical to the authorization request's
      code.expiresAt > nowSeconds() &&
      verifyPkce(params.code_verifier, code.codeChallenge, code.codeChallengeMethod)
    if (!bound) throw invalidCode()
    // RFC 9449 §10: a code issued for dpop_jkt is redeemed only with a proof of that key.
    const dpopJkt = dpopJktOf(request)
    checkKeyBinding(code.dpopJkt, dpopJkt, 'authorization code')
    const grant = await ctx.store.getGrant(code.grantId)
    if (grant !== undefined && (grant.clientId !== client.client_id || grant.accountId !== code.accountId)) throw invalidCode()
    if (grant === undefined) {
      // Gone before our consume (consent revoked): the code died with it. Gone after it, because
      // a concurrent replay (on another instance: nothing orders its revocation after this read)
      // revoked it: this is still the one first redemption, answered as when the replay comes
      // later, and what it issues is dead already, since tokens live only while their grant does.
      // markUsed succeeds only when no replay marked the code.
      if (await ctx.store.markUsed(replayMark(codeHash), nowSeconds() + ctx.options.ttl.code)) throw invalidCode()
    }

    // No refresh token under a revoked grant: it could never be used.
    const refresh = grant === undefined ? undefined : storeRefreshToken(ctx, client, code, grant.expiresAt, dpopJkt)
    return await userTokenResponse(ctx, {
      grantType: 'authorization_code',
      client,
      accountId: code.accountId,
      scope: code.scope,
      authTime: code.authTime,
      grantId: code.grantId,
      ...(code.nonce === undefined ? {} : { nonce: code.nonce }),
      ...(refresh === undefined ? {} : { refreshToken: refresh.token, pending: refresh.saved }),
      ...(dpopJkt === undefined ? {} : { dpopJkt }),
    })
  },
} satisfies GrantHandler<typeof body>

/**
 * Starts a refresh-token family when the client may use the refresh_token grant.
 *
 * The family ends at `ttl.refreshTokenAbsolute` from now, or when the grant (the user's consent)
 * ends if that is earlier: the grant is never re-saved from here, because a write racing with a
 * concurrent `revokeGrant` (a code replay, a host revocation) would bring the revoked grant back.
 */
function storeRefreshToken (
  ctx: ProviderContext,
  client: ClientRecord,
  code: { clientId: string, grantId: string, accountId: string, scope: string, authTime: number, sessionId?: string },
  grantExpiresAt: number,
  dpopJkt?: string
): { token: string, saved: Promise<void> } | undefined {
  if (!client.grant_types.includes('refresh_token')) return undefined
  const { token, tokenHash } = newRefreshToken()
  const familyExpiresAt = Math.min(nowSeconds() + ctx.options.ttl.refreshTokenAbsolute, grantExpiresAt)
  const saved = ctx.store.saveRefreshToken(tokenHash, refreshTokenRecord(ctx, {
    clientId: client.client_id,
    grantId: code.grantId,
    accountId: code.accountId,
    scope: code.scope,
    authTime: code.authTime,
    ...(code.sessionId === undefined ? {} : { sessionId: code.sessionId }),
    familyExpiresAt,
    // RFC 9449 §5: a public client's refresh token is bound to its DPoP key.
    ...(dpopJkt !== undefined && client.token_endpoint_auth_method === 'none' ? { jkt: dpopJkt } : {}),
  }))
  // Awaited by userTokenResponse; this keeps an early rejection from being reported unhandled.
  saved.catch(() => {})
  return { token, saved }
}
