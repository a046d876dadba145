import type { ProviderContext } from '../contracts/context.js'
import { issueIdToken, type IdTokenInput } from '../tokens/issue.js'
import { tokenClaims, type TokenClaimsInput } from '../tokens/claims-hook.js'
import type { Authentication, AuthorizationRequest } from './types.js'
import { issuedAcr } from './acr.js'

/**
 * The ID token of an authorization response (OIDC Core §3.2.2.5 for `id_token`, §3.3.2.5 for
 * `code id_token`), made by the token endpoint's machinery: the same signer (the client's
 * `id_token_signed_response_alg`), claims (scope claims, the `claims` parameter's `id_token`
 * members, the `idToken` hook) and registered claims (`auth_time`, `nonce`, `acr`, `amr`,
 * `sid`, `azp`). No `at_hash`: no access token leaves by this way. `c_hash` when a code goes
 * with it (§3.3.2.11). With `id_token` alone, the scopes' claims are always in it (§5.4: with
 * no access token, userinfo cannot be called).
 *
 * @example
 * const idToken = await frontChannelIdToken(ctx, authorization, authentication, scopes, code)
 */
export async function frontChannelIdToken (
  ctx: ProviderContext,
  authorization: AuthorizationRequest,
  authentication: Authentication,
  scopes: readonly string[],
  code: string | undefined
): Promise<string> {
  const claimsInput: TokenClaimsInput = {
    client: authorization.client,
    accountId: authentication.accountId,
    scope: scopes.join(' '),
    grantType: 'implicit',
    idTokenOnly: true,
    scopeClaimsInIdToken: code === undefined,
  }
  if (authorization.claims !== undefined) claimsInput.claimsRequest = JSON.stringify(authorization.claims)
  const extra = await tokenClaims(ctx, claimsInput)
  const input: IdTokenInput = {
    client: authorization.client,
    sub: authentication.accountId,
    authTime: authentication.authTime,
    claims: extra.idToken,
  }
  if (authorization.nonce !== undefined) input.nonce = authorization.nonce
  if (code !== undefined) input.code = code
  if (authentication.sid !== undefined) input.sid = authentication.sid
  // OIDC Core §3.1.2.1, §5.5.1.1: the same `acr` as the code's ID token would state.
  const acr = issuedAcr(ctx, authorization, authentication)
  if (acr !== undefined) input.acr = acr
  if (authentication.amr !== undefined) input.amr = authentication.amr
  const idToken = await issueIdToken(ctx, input)
  ctx.audit('token.issued', { clientId: authorization.client.client_id, accountId: authentication.accountId, grantType: 'implicit' })
  return idToken
}
