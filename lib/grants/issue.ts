import type { ClientRecord, GrantType } from '../adapters/store/types.js'
import type { ProviderContext } from '../context.js'
import type { TokenResource } from '../resources/resolve.js'
import { issueAccessToken, issueIdToken, scopeSet, type TokenResponse } from '../tokens.js'
import { tokenClaims } from '../tokens/claims-hook.js'

export interface UserTokenInput {
  grantType: GrantType
  client: ClientRecord
  accountId: string
  /** The scope of the access token (and whether an id_token is due: `openid`). */
  scope: string
  authTime: number
  grantId: string
  /** The token family the access token belongs to (revoked with it). */
  familyId?: string
  nonce?: string
  /** The login session's `sid`, for the ID token. */
  sid?: string
  /** A refresh token stored by the caller, returned as is. */
  refreshToken?: string
  /**
   * Store writes that must succeed before anything counts as issued (the refresh token's save).
   * They run while the tokens are signed, so the store round trip hides behind the signature;
   * if one fails, the request fails and nothing leaves the server.
   */
  pending?: Promise<unknown>
  /** RFC 8707: the resource the access token is for (its `aud`, filtered scope, lifetime). */
  resource?: TokenResource
  /** OIDC Core §2: how the user authenticated, for the ID token. */
  acr?: string
  amr?: string[]
  /** OIDC Core §5.5: the `claims` request parameter (JSON) the code was issued for. */
  claimsRequest?: string
  /** RFC 9449: the DPoP key the access token is bound to. */
  dpopJkt?: string
}

/**
 * The token response for a user's grant: an access token, an id_token when `openid` is in
 * scope (OpenID Connect Core §3.1.3.3; without it the flow is plain OAuth 2.0), and the refresh
 * token the grant stored, if any.
 */
export async function userTokenResponse (ctx: ProviderContext, input: UserTokenInput): Promise<TokenResponse> {
  // The id_token follows the grant's scope; the access token (and `scope`, RFC 6749 §5.1) its resource's.
  const accessScope = input.resource?.scope ?? input.scope
  const extra = await tokenClaims(ctx, {
    client: input.client,
    accountId: input.accountId,
    scope: input.scope,
    grantType: input.grantType,
    ...(input.claimsRequest === undefined ? {} : { claimsRequest: input.claimsRequest }),
    ...(input.resource === undefined ? {} : { resource: input.resource.audience }),
  })
  const access = await issueAccessToken(ctx, {
    claims: extra.accessToken,
    client: input.client,
    sub: input.accountId,
    scope: accessScope,
    authTime: input.authTime,
    grantId: input.grantId,
    ...(input.resource === undefined ? {} : { audience: input.resource.audience, ttl: input.resource.ttl }),
    ...(input.familyId === undefined ? {} : { familyId: input.familyId }),
    ...(input.dpopJkt === undefined ? {} : { dpopJkt: input.dpopJkt }),
  })
  const response: TokenResponse = {
    access_token: access.token,
    token_type: input.dpopJkt === undefined ? 'Bearer' : 'DPoP',
    expires_in: access.expiresIn,
    scope: accessScope,
  }
  if (scopeSet(input.scope).has('openid')) {
    response.id_token = await issueIdToken(ctx, {
      client: input.client,
      sub: input.accountId,
      authTime: input.authTime,
      ...(input.nonce === undefined ? {} : { nonce: input.nonce }),
      ...(input.sid === undefined ? {} : { sid: input.sid }),
      accessToken: access.token,
      claims: extra.idToken,
      ...(input.acr === undefined ? {} : { acr: input.acr }),
      ...(input.amr === undefined ? {} : { amr: input.amr }),
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
