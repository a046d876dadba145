import Type from 'typebox'
import { OAuthError } from '../contracts/errors.js'
import { clientScopes, issueAccessToken, scopeSet, type TokenResponse } from '../tokens/issue.js'
import { tokenClaims } from '../tokens/claims-hook.js'
import type { GrantHandler } from './types.js'
import { ResourceParameter } from './types.js'
import { resolveTokenResource } from '../resources/resolve.js'
import { dpopJktOf } from '../tokens/dpop.js'

const body = Type.Object({
  scope: Type.Optional(Type.String()),
  resource: ResourceParameter,
})

/** Scopes about a user: meaningless when the client acts for itself. */
const userOnlyScopes = new Set(['openid', 'offline_access'])

/**
 * `grant_type=client_credentials`: RFC 6749 §4.4. The client acts for itself: the access token's
 * `sub` is its client_id (RFC 9068 §2.2), and there is no user, no id_token, no refresh token
 * (RFC 6749 §4.4.3: "A refresh token SHOULD NOT be included").
 */
export const clientCredentialsGrant = {
  grantType: 'client_credentials',
  body,
  // RFC 6749 §4.4: "MUST only be used by confidential clients".
  allowPublicClients: false,
  async handle (ctx, params, client, request) {
    const registered = new Set([...clientScopes(client)].filter((value) => !userOnlyScopes.has(value)))
    let scopes = [...registered]
    if (params.scope !== undefined) {
      const requested = scopeSet(params.scope)
      const extra = [...requested].find((value) => !registered.has(value) && !userOnlyScopes.has(value))
      if (extra !== undefined) throw new OAuthError('invalid_scope', `scope '${extra}' is not registered for this client`)
      // openid and offline_access are ignored (RFC 6749 §3.3 lets the server narrow the request);
      // the response's `scope` says what was granted.
      scopes = [...requested].filter((value) => registered.has(value))
    }
    // RFC 8707 §2.2: any declared resource, one per request; its scopes only.
    const resource = await resolveTokenResource(ctx, { requested: params.resource, granted: undefined, client, scope: scopes.join(' ') })
    const scope = resource?.scope ?? scopes.join(' ')
    const dpopJkt = dpopJktOf(request)
    // The host's access-token claims hook runs for client tokens too (no account).
    const extra = await tokenClaims(ctx, { client, scope, grantType: 'client_credentials', ...(resource === undefined ? {} : { resource: resource.resource }) })
    const access = await issueAccessToken(ctx, {
      client,
      sub: client.client_id,
      scope,
      claims: extra.accessToken,
      ...(resource === undefined ? {} : { audience: resource.audience, ttl: resource.ttl }),
      ...(dpopJkt === undefined ? {} : { dpopJkt }),
    })
    ctx.audit('token.issued', { clientId: client.client_id, grantType: 'client_credentials' })
    const response: TokenResponse = {
      access_token: access.token,
      token_type: dpopJkt === undefined ? 'Bearer' : 'DPoP',
      expires_in: access.expiresIn,
      ...(scope === '' ? {} : { scope }),
    }
    return response
  },
} satisfies GrantHandler<typeof body>
