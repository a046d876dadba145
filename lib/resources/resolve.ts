import type { ClientRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'
import { normalizeResource } from '../contracts/resource-uri.js'
import type { KnownResource } from '../contracts/resources.js'

/** What an access token for one resource looks like: passed on to `issueAccessToken`. */
export interface TokenResource {
  /** The resource's identifier (what the claims hook is told). */
  resource: string
  /**
   * The token's `aud` (RFC 8707 §2, RFC 9068 §3): the resource, and with
   * `includeUserinfoAudience` the userinfo endpoint beside an API when `openid` was granted.
   */
  audience: string | string[]
  /** The requested or granted scope, keeping only scopes the resource accepts. */
  scope: string
  /** The access token's lifetime in seconds. */
  ttl: number
}

const invalidTarget = (description: string, allowRedirect = false): OAuthError =>
  new OAuthError('invalid_target', description, allowRedirect ? { allowRedirect: true, statusCode: 400 } : {})

/** One raw `resource` value, normalised and known, or `invalid_target`. */
async function knownResource (ctx: ProviderContext, value: unknown, allowRedirect: boolean): Promise<KnownResource> {
  const normalized = typeof value === 'string' ? normalizeResource(value) : undefined
  if (normalized === undefined) throw invalidTarget('the resource parameter must be an absolute URI without a fragment', allowRedirect)
  const known = await ctx.resources.find(normalized)
  if (known === undefined) throw invalidTarget('the resource is not known to this authorization server', allowRedirect)
  return known
}

/**
 * RFC 8707 §2.1: the resources of an authorization request (the parameter may repeat), each an
 * absolute URI the host declared. Returned normalised and without duplicates; an unknown or
 * malformed one is `invalid_target`, sent back to the (already validated) redirect_uri.
 *
 * @example
 * authorization.resources = await resolveAuthorizationResources(ctx, params.resource)
 */
export async function resolveAuthorizationResources (ctx: ProviderContext, raw: unknown): Promise<string[]> {
  if (raw === undefined || raw === '') {
    // `defaultResource`: a request that names none is granted the default (RFC 8707 §2 leaves it
    // to the server); its tokens are then for it, as if the client had sent it.
    const fallback = ctx.options.defaultResource
    return fallback === undefined ? [] : [(await knownResource(ctx, fallback, true)).resource]
  }
  const values = Array.isArray(raw) ? raw : [raw]
  if (values.length > 10) throw invalidTarget('too many resource parameters', true)
  const resources = new Set<string>()
  for (const value of values) resources.add((await knownResource(ctx, value, true)).resource)
  return [...resources]
}

/**
 * RFC 8707 §2.2: the target of a token request. One resource per request (an access token has
 * one audience here); for a code or a refresh token it must be one of those granted at the
 * authorization request (a refresh narrows, never widens); for client_credentials (`granted`
 * undefined) any declared resource. The scope keeps what the resource accepts (RFC 8707 §2.2:
 * the token is "audience-restricted" and its privileges fit that audience).
 *
 * Without `resource`: a grant bound to exactly one resource gets a token for it (RFC 8707 §2.2
 * lets the server pick its default), anything else gets the token it always got (undefined).
 *
 * @example
 * const target = await resolveTokenResource(ctx, { requested: params.resource, granted: code.resources ?? [], client, scope: code.scope })
 * const access = await issueAccessToken(ctx, { client, sub, scope: target?.scope ?? scope, audience: target?.audience, ttl: target?.ttl })
 */
export async function resolveTokenResource (
  ctx: ProviderContext,
  input: { requested: unknown, granted: readonly string[] | undefined, client: ClientRecord, scope: string }
): Promise<TokenResource | undefined> {
  let requested = input.requested
  if (requested === undefined || requested === '') {
    if (input.granted === undefined) {
      // client_credentials: `defaultResource` when set, else the token it always got.
      if (ctx.options.defaultResource === undefined) return undefined
      requested = ctx.options.defaultResource
    } else {
      if (input.granted.length !== 1) return undefined
      requested = input.granted[0]
    }
  }
  if (Array.isArray(requested)) {
    throw invalidTarget('this authorization server issues a token for one resource per request; send one resource parameter')
  }
  const known = await knownResource(ctx, requested, false)
  if (input.granted !== undefined && !input.granted.includes(known.resource)) {
    throw invalidTarget('the resource was not granted to this authorization (request it at the authorization endpoint)')
  }
  const granted = input.scope.split(' ').filter((value) => value !== '')
  // A token for the provider itself carries the provider's own scopes, never an API's (those
  // would tell the wrong audience what it may do); a token for an API carries that API's.
  const own = granted.filter((value) => known.scopes.has(value))
  if (known.self) {
    return { resource: known.resource, audience: ctx.options.accessTokenAudience ?? ctx.issuer, scope: own.join(' '), ttl: ctx.options.ttl.accessToken }
  }
  const ttl = known.accessTokenTtl ?? ctx.options.ttl.accessToken
  // `includeUserinfoAudience`: one token for the API and /userinfo (OIDC Core §5.3), as Auth0
  // does: `aud` names both, and the scope keeps the OpenID scopes userinfo releases claims for.
  if (ctx.options.includeUserinfoAudience && granted.includes('openid') && input.granted !== undefined) {
    // offline_access concerns the refresh token (OIDC Core §11), neither the API nor userinfo.
    const providerScopes = granted.filter((value) => value !== 'offline_access' && ctx.resources.isProviderScope(value) && !known.scopes.has(value))
    return { resource: known.resource, audience: [known.resource, ctx.urls.userinfo], scope: [...own, ...providerScopes].join(' '), ttl }
  }
  return { resource: known.resource, audience: known.resource, scope: own.join(' '), ttl }
}

/**
 * Whether `/userinfo` accepts a token with this `aud`: only tokens meant for the provider
 * itself (OpenID Connect Core §5.3 is the provider's own resource), or naming the userinfo
 * endpoint (`includeUserinfoAudience`); a token bound only to an API must not be replayed at
 * userinfo by whoever that API is.
 */
export function isProviderAudience (ctx: ProviderContext, aud: string | string[]): boolean {
  if (typeof aud !== 'string') return aud.some((value) => isProviderAudience(ctx, value))
  if (aud === (ctx.options.accessTokenAudience ?? ctx.issuer)) return true
  if (ctx.options.includeUserinfoAudience && aud === ctx.urls.userinfo) return true
  return normalizeResource(aud) === normalizeResource(ctx.issuer)
}
