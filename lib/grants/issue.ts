import type { ClientRecord, GrantType } from '../adapters/store/types.js'
import type { ProviderContext } from '../context.js'
import { issueAccessToken, issueIdToken, scopeSet, type TokenResponse } from '../tokens.js'

export interface UserTokenInput {
  grantType: GrantType
  client: ClientRecord
  accountId: string
  /** The scope of the access token (and whether an id_token is due: `openid`). */
  scope: string
  authTime: number
  grantId: string
  nonce?: string
  /** A refresh token stored by the caller, returned as is. */
  refreshToken?: string
  /**
   * Store writes that must succeed before anything counts as issued (the refresh token's save).
   * They run while the tokens are signed, so the store round trip hides behind the signature;
   * if one fails, the request fails and nothing leaves the server.
   */
  pending?: Promise<unknown>
  /** RFC 9449: the DPoP key the access token is bound to. */
  dpopJkt?: string
}

/**
 * The token response for a user's grant: an access token, an id_token when `openid` is in
 * scope (OpenID Connect Core §3.1.3.3; without it the flow is plain OAuth 2.0), and the refresh
 * token the grant stored, if any.
 */
export async function userTokenResponse (ctx: ProviderContext, input: UserTokenInput): Promise<TokenResponse> {
  const access = await issueAccessToken(ctx, {
    client: input.client,
    sub: input.accountId,
    scope: input.scope,
    authTime: input.authTime,
    grantId: input.grantId,
    ...(input.dpopJkt === undefined ? {} : { dpopJkt: input.dpopJkt }),
  })
  const response: TokenResponse = {
    access_token: access.token,
    token_type: input.dpopJkt === undefined ? 'Bearer' : 'DPoP',
    expires_in: access.expiresIn,
    scope: input.scope,
  }
  if (scopeSet(input.scope).has('openid')) {
    response.id_token = await issueIdToken(ctx, {
      client: input.client,
      sub: input.accountId,
      authTime: input.authTime,
      ...(input.nonce === undefined ? {} : { nonce: input.nonce }),
      accessToken: access.token,
    })
  }
  if (input.refreshToken !== undefined) response.refresh_token = input.refreshToken
  await input.pending
  ctx.audit('token.issued', {
    clientId: input.client.client_id,
    accountId: input.accountId,
    grantType: input.grantType,
    grantId: input.grantId,
  })
  return response
}
