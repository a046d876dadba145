import type { ClientRecord, GrantType } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import type { TokenResource } from '../resources/resolve.js'
import { issueAccessToken, issueIdToken, scopeValues, type AccessTokenInput, type IdTokenInput, type TokenResponse } from '../tokens/issue.js'
import { tokenClaims, type TokenClaimsInput } from '../tokens/claims-hook.js'

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
  // Optional members assigned rather than spread from temporary objects (on every token).
  const claimsInput: TokenClaimsInput = { client: input.client, accountId: input.accountId, scope: input.scope, grantType: input.grantType }
  if (input.claimsRequest !== undefined) claimsInput.claimsRequest = input.claimsRequest
  if (input.resource !== undefined) claimsInput.resource = input.resource.resource
  const extra = await tokenClaims(ctx, claimsInput)
  const accessInput: AccessTokenInput = {
    claims: extra.accessToken,
    client: input.client,
    sub: input.accountId,
    scope: accessScope,
    authTime: input.authTime,
    grantId: input.grantId,
  }
  if (input.resource !== undefined) {
    accessInput.audience = input.resource.audience
    accessInput.ttl = input.resource.ttl
  }
  if (input.familyId !== undefined) accessInput.familyId = input.familyId
  if (input.dpopJkt !== undefined) accessInput.dpopJkt = input.dpopJkt
  const access = await issueAccessToken(ctx, accessInput)
  const response: TokenResponse = {
    access_token: access.token,
    token_type: input.dpopJkt === undefined ? 'Bearer' : 'DPoP',
    expires_in: access.expiresIn,
    scope: accessScope,
  }
  if (scopeValues(input.scope).has('openid')) {
    const idInput: IdTokenInput = {
      client: input.client,
      sub: input.accountId,
      authTime: input.authTime,
      accessToken: access.token,
      claims: extra.idToken,
    }
    if (input.nonce !== undefined) idInput.nonce = input.nonce
    if (input.sid !== undefined) idInput.sid = input.sid
    if (input.acr !== undefined) idInput.acr = input.acr
    if (input.amr !== undefined) idInput.amr = input.amr
    response.id_token = await issueIdToken(ctx, idInput)
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
