import type { ClientRecord } from '../contracts/store.js'
import type { ClaimsContext, TokenKind } from '../contracts/claims.js'
import type { ProviderContext } from '../contracts/context.js'
import { pickClaims, registeredClaims, releasedClaimNames } from './scopes.js'
import type { ClaimsRequest, InteractionClient } from '../contracts/interactions.js'
import { scopeSet } from './issue.js'
import { isClientIdUrl } from '../contracts/urls.js'

/** The client's public metadata, as hooks and pages see it (never its secret). */
export function publicClient (client: ClientRecord): InteractionClient {
  const view: InteractionClient = { clientId: client.client_id }
  if (isClientIdUrl(client.client_id)) view.clientIdHost = new URL(client.client_id).host
  if (client.client_name !== undefined) view.clientName = client.client_name
  if (client.client_uri !== undefined) view.clientUri = client.client_uri
  if (client.logo_uri !== undefined) view.logoUri = client.logo_uri
  if (client.policy_uri !== undefined) view.policyUri = client.policy_uri
  if (client.tos_uri !== undefined) view.tosUri = client.tos_uri
  return view
}

/** Keeps the hook's own claims; a registered one is dropped, with one warning per claim name. */
function withoutRegistered (ctx: ProviderContext, kind: TokenKind, claims: Record<string, unknown> | undefined): Record<string, unknown> {
  const kept: Record<string, unknown> = {}
  if (typeof claims !== 'object' || claims === null) return kept
  for (const [name, value] of Object.entries(claims)) {
    if (value === undefined) continue
    if (registeredClaims.has(name)) {
      ctx.warnOnce(`registered-claim:${kind}:${name}`, { claim: name, token: kind }, 'fastify-oidc-provider: a tokenClaims hook returned a registered claim; it is dropped (the provider sets it)')
      continue
    }
    kept[name] = value
  }
  return kept
}

export interface TokenClaimsInput {
  client: ClientRecord
  accountId?: string
  scope: string
  grantType: string
  resource?: string
  /** The `claims` parameter the code was issued for (JSON), for the ID token. */
  claimsRequest?: string
  /**
   * Put the granted scopes' claims in the ID token whatever `idTokenScopeClaims` says: OIDC Core
   * §5.4, when no access token is issued (response_type=id_token), they have nowhere else to go.
   */
  scopeClaimsInIdToken?: boolean
  /** Only an ID token is being issued (at the authorization endpoint): the `accessToken` hook is not asked. */
  idTokenOnly?: boolean
}

/**
 * The extra claims of a token response: for the ID token, the granted scopes' claims (unless
 * `idTokenScopeClaims: false`), the claims asked for with OIDC Core §5.5, then the `idToken`
 * hook; for the access token, the `accessToken` hook. The user's claims are read once.
 */
export async function tokenClaims (ctx: ProviderContext, input: TokenClaimsInput): Promise<{ accessToken: Record<string, unknown>, idToken: Record<string, unknown> }> {
  const hooks = ctx.options.tokenClaims
  const scopes = scopeSet(input.scope)
  const wantsIdToken = scopes.has('openid')
  const claimsRequest = parseStored(input.claimsRequest)
  const requested = Object.keys(claimsRequest?.id_token ?? {})
  const needsAccount = input.accountId !== undefined &&
    ((hooks.accessToken !== undefined && input.idTokenOnly !== true) || (wantsIdToken && (hooks.idToken !== undefined || ctx.options.idTokenScopeClaims || input.scopeClaimsInIdToken === true || requested.length > 0)))
  // What the hooks and the user adapter are told: built on first use, once (a client_credentials
  // request without hooks never builds it).
  let context: ClaimsContext | undefined
  const contextFor = (): ClaimsContext => (context ??= {
    kind: 'id_token',
    client: publicClient(input.client),
    scopes,
    grantType: input.grantType,
    ...(input.accountId === undefined ? {} : { accountId: input.accountId }),
    ...(input.resource === undefined ? {} : { resource: input.resource }),
    ...(claimsRequest === undefined ? {} : { claimsRequest }),
  })
  const account = needsAccount ? await ctx.users.claims(input.accountId!, scopes, contextFor()) : null

  const accessToken = hooks.accessToken === undefined || input.idTokenOnly === true
    ? {}
    : withoutRegistered(ctx, 'access_token', await hooks.accessToken({ ...contextFor(), kind: 'access_token', account }))
  // OIDC Core §5.5: the claims asked for at userinfo travel in the token userinfo is called with.
  if (claimsRequest?.userinfo !== undefined) {
    // Built only when asked for: most token requests carry no `claims` parameter.
    const supported = new Set(ctx.options.scopeRegistry.supportedClaims())
    const forUserinfo = Object.keys(claimsRequest.userinfo).filter((name) => supported.has(name) && !registeredClaims.has(name))
    if (forUserinfo.length > 0) accessToken.userinfo_claims = forUserinfo
  }
  let idToken: Record<string, unknown> = {}
  if (wantsIdToken && account !== null) {
    // filterClaims' selection without `sub` (the ID token sets its own), from the names the
    // scope string releases, computed once per scope string rather than a set per token; and
    // no `delete`, which would leave the object in V8's slow dictionary mode for the signing.
    idToken = pickClaims(account, releasedClaimNames(ctx.options.scopeRegistry, ctx.options.idTokenScopeClaims || input.scopeClaimsInIdToken === true ? input.scope : '', requested), {})
  }
  if (wantsIdToken && hooks.idToken !== undefined) {
    idToken = { ...idToken, ...withoutRegistered(ctx, 'id_token', await hooks.idToken({ ...contextFor(), kind: 'id_token', account })) }
  }
  return { accessToken, idToken }
}

function parseStored (value: string | undefined): ClaimsRequest | undefined {
  if (value === undefined) return undefined
  try {
    return JSON.parse(value) as ClaimsRequest
  } catch {
    return undefined
  }
}
