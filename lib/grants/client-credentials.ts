import Type from 'typebox'
import type { ClientRecord } from '../contracts/store.js'
import { OAuthError } from '../contracts/errors.js'
import { clientScopes, issueAccessToken, scopeSet, type TokenResponse } from '../tokens/issue.js'
import { tokenClaims } from '../tokens/claims-hook.js'
import type { GrantHandler } from './types.js'
import { ResourceParameter } from './types.js'
import { resolveTokenResource } from '../resources/resolve.js'
import { dpopJktOf } from '../tokens/dpop.js'
import { BoundedCache } from '../tokens/bounded-cache.js'

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
    const scopes = grantedScopes(client, params.scope)
    // RFC 8707 §2.2: any declared resource, one per request; its scopes only. Without one and
    // without `defaultResource` there is nothing to resolve (resolveTokenResource says undefined).
    const resource = params.resource === undefined && ctx.options.defaultResource === undefined
      ? undefined
      : await resolveTokenResource(ctx, { requested: params.resource, granted: undefined, client, scope: scopes })
    const scope = resource?.scope ?? scopes
    const dpopJkt = dpopJktOf(request)
    // The host's access-token claims hook runs for client tokens too (no account); without the
    // hook there are no extra claims (tokenClaims would answer `{}`).
    const claims = ctx.options.tokenClaims.accessToken === undefined
      ? undefined
      : (await tokenClaims(ctx, { client, scope, grantType: 'client_credentials', ...(resource === undefined ? {} : { resource: resource.resource }) })).accessToken
    const access = await issueAccessToken(ctx, {
      client,
      sub: client.client_id,
      scope,
      ...(claims === undefined ? {} : { claims }),
      ...(resource === undefined ? {} : { audience: resource.audience, ttl: resource.ttl }),
      ...(dpopJkt === undefined ? {} : { dpopJkt }),
    })
    ctx.audit('token.issued', { clientId: client.client_id, grantType: 'client_credentials' })
    const response: TokenResponse = {
      access_token: access.token,
      token_type: dpopJkt === undefined ? 'Bearer' : 'DPoP',
      expires_in: access.expiresIn,
    }
    if (scope !== '') response.scope = scope
    return response
  },
} satisfies GrantHandler<typeof body>

/**
 * The scope string granted (RFC 6749 §3.3): the client's registered scopes, or those of the
 * requested ones that are registered; openid and offline_access are ignored (RFC 6749 §3.3 lets
 * the server narrow the request; the response's `scope` says what was granted). An unregistered
 * scope is `invalid_scope`. It depends only on the client record and the `scope` parameter, so
 * it is kept per record (a record updated by RFC 7592 or re-read from the store is a new object,
 * and its `scope` is compared too) and per parameter, a few per client.
 */
function grantedScopes (client: ClientRecord, requested: string | undefined): string {
  let entry = grantedByClient.get(client)
  if (entry === undefined || entry.scope !== client.scope) {
    entry = { scope: client.scope, byRequest: new BoundedCache(16, 512) }
    grantedByClient.set(client, entry)
  }
  const key = requested ?? noScopeParameter
  const cached = entry.byRequest.get(key)
  if (cached !== undefined) return cached
  const granted = computeGrantedScopes(client, requested)
  entry.byRequest.set(key, granted)
  return granted
}

/** Stands for "no scope parameter" (a scope value cannot contain a space, RFC 6749 §3.3, nor be empty). */
const noScopeParameter = ' '
const grantedByClient = new WeakMap<ClientRecord, { scope: string | undefined, byRequest: BoundedCache<string> }>()

function computeGrantedScopes (client: ClientRecord, requested: string | undefined): string {
  const registered = new Set([...clientScopes(client)].filter((value) => !userOnlyScopes.has(value)))
  if (requested === undefined) return [...registered].join(' ')
  const values = scopeSet(requested)
  const extra = [...values].find((value) => !registered.has(value) && !userOnlyScopes.has(value))
  if (extra !== undefined) throw new OAuthError('invalid_scope', `scope '${extra}' is not registered for this client`)
  return [...values].filter((value) => registered.has(value)).join(' ')
}
