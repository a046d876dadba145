import Type, { type Static } from 'typebox'
import type { FastifyRequest } from 'fastify'
import type { ClientRecord, RefreshFamilyRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'
import { idJagType, tokenExchangeGrantType, tokenTypes, type ActorClaim, type TokenExchangeDecision, type TokenExchangeRequest } from '../contracts/trust.js'
import { normalizeResource } from '../contracts/resource-uri.js'
import { accessTokenSigner, clientScopes, issueAccessToken, scopeSet, type AccessTokenInput, type TokenResponse } from '../tokens/issue.js'
import { tokenClaims } from '../tokens/claims-hook.js'
import { signJwt } from '../tokens/jwt.js'
import { nowSeconds, randomToken } from '../tokens/crypto.js'
import { dpopJktOf } from '../tokens/dpop.js'
import { resolveTokenResource, type TokenResource } from '../resources/resolve.js'
import { startFamily } from './authorization-code.js'
import { actorOf, mayAct, readExchangeToken, type ReadToken } from './exchange-subject.js'
import type { GrantHandler } from './types.js'
import { ResourceParameter } from './types.js'

const body = Type.Object({
  subject_token: Type.String({ minLength: 1 }),
  subject_token_type: Type.String({ minLength: 1 }),
  actor_token: Type.Optional(Type.String({ minLength: 1 })),
  actor_token_type: Type.Optional(Type.String({ minLength: 1 })),
  requested_token_type: Type.Optional(Type.String()),
  resource: ResourceParameter,
  audience: ResourceParameter,
  scope: Type.Optional(Type.String()),
})

type Params = Static<typeof body>

/**
 * `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): an authenticated
 * client trades a token it holds (`subject_token`) for another:
 * - an access token (RFC 9068 JWT) for one target (`resource` or `audience`, resolved through the
 *   resource registry, else `invalid_target`), with no more scopes than the subject token had
 *   (`invalid_scope`), carrying `act` (the actor token's party, or the client itself; nested when
 *   the subject already had an actor, §4.1) unless the policy allows impersonation, and joining
 *   the subject's grant and family, so revoking those ends it too. No refresh token.
 * - an ID-JAG (`requested_token_type=urn:ietf:params:oauth:token-type:id-jag`,
 *   draft-ietf-oauth-identity-assertion-authz-grant §4.2): this provider as the enterprise
 *   identity provider asserts a signed-in user (the client's ID token or refresh token) to
 *   another authorization server (`audience`).
 *
 * The host's `tokenExchange.policy` decides every exchange and may narrow it; without one only the
 * safe default passes (see `safeDefault`). Errors follow RFC 8693 §2.2.2.
 */
export const tokenExchangeGrant = {
  grantType: tokenExchangeGrantType,
  body,
  // RFC 8693 §2.1 leaves it to the server; a public client cannot be told from whoever holds the token.
  allowPublicClients: false,
  async handle (ctx, params, client, request) {
    if ((params.actor_token === undefined) !== (params.actor_token_type === undefined)) {
      throw new OAuthError('invalid_request', 'actor_token and actor_token_type go together (RFC 8693 section 2.1)')
    }
    const requested = params.requested_token_type
    if (requested === tokenTypes.idJag) return await issueIdJag(ctx, params, client)
    if (requested !== undefined && requested !== tokenTypes.accessToken) {
      throw new OAuthError('invalid_request', 'requested_token_type is not supported (access_token or id-jag)')
    }
    return await exchangeForAccessToken(ctx, params, client, request)
  },
} satisfies GrantHandler<typeof body>

/** RFC 8693 §2.1: `resource` and `audience` together name the target; one target per request here. */
function singleTarget (params: Params): { kind: 'resource' | 'audience', value: string } | undefined {
  const values = [
    ...[params.resource ?? []].flat().map((value) => ({ kind: 'resource' as const, value })),
    ...[params.audience ?? []].flat().map((value) => ({ kind: 'audience' as const, value })),
  ]
  if (values.length > 1) throw new OAuthError('invalid_target', 'this authorization server issues a token for one target per request (one resource or audience)')
  return values[0]
}

async function exchangeForAccessToken (ctx: ProviderContext, params: Params, client: ClientRecord, request: FastifyRequest): Promise<TokenResponse> {
  const subject = await readExchangeToken(ctx, client, 'subject_token', params.subject_token, params.subject_token_type)
  const actorToken = params.actor_token === undefined
    ? undefined
    : await readExchangeToken(ctx, client, 'actor_token', params.actor_token, params.actor_token_type as string)
  // RFC 9449 §7.1: a DPoP-bound token is used only with a proof of its key, and exchanging it is
  // a use: whoever stole a bound token cannot trade it for an unbound one.
  if (subject.dpopJkt !== undefined && dpopJktOf(request) !== subject.dpopJkt) {
    throw new OAuthError('invalid_request', 'the subject_token is DPoP-bound: send a DPoP proof of its key')
  }
  // Without an actor token, the client doing the exchange is the actor (it acts for the subject).
  const actor: ActorClaim = actorToken === undefined ? { sub: client.client_id } : actorOf(ctx, actorToken)
  if (!mayAct(ctx, subject, actor)) throw new OAuthError('invalid_request', 'the actor is not allowed to act for the subject (may_act)')
  // RFC 6749 §3.3, RFC 8693 §2.1: scope narrows what the subject token allows, never widens it.
  const available = scopeSet(subject.scope)
  const asked = params.scope === undefined ? undefined : scopeSet(params.scope)
  const extra = asked === undefined ? undefined : [...asked].find((value) => !available.has(value))
  if (extra !== undefined) throw new OAuthError('invalid_scope', `scope '${extra}' is wider than the subject_token's`)
  let scope = [...(asked ?? available)].join(' ')
  const target = singleTarget(params)
  if (target !== undefined && normalizeResource(target.value) === undefined) {
    throw new OAuthError('invalid_target', `the ${target.kind} must be an absolute URI naming a resource server`)
  }
  const resource = target === undefined ? undefined : await resolveTokenResource(ctx, { requested: target.value, granted: undefined, client, scope })
  if (resource !== undefined) scope = resource.scope
  const policyRequest: TokenExchangeRequest = { client, subject: publicView(subject), requestedTokenType: 'access_token', scope, allowedByDefault: false }
  if (actorToken !== undefined) policyRequest.actor = actor
  if (resource !== undefined) policyRequest.resource = resource.resource
  policyRequest.allowedByDefault = await safeDefault(ctx, policyRequest, subject, actorToken !== undefined)
  const decision = await decide(ctx, policyRequest)
  scope = narrowScope(scope, decision.scope)
  const act = decision.impersonate === true ? undefined : subject.act === undefined ? actor : { ...actor, act: subject.act }

  const dpopJkt = dpopJktOf(request)
  // RFC 8693 §2.2.1: a refresh token only when the policy grants one (TokenExchangeDecision).
  const family = decision.refreshToken === true
    ? await startExchangeFamily(ctx, client, subject, { scope, ...(resource === undefined ? {} : { resource: resource.resource }), ...(act === undefined ? {} : { act }), ...(dpopJkt === undefined ? {} : { dpopJkt }) })
    : undefined
  const input: AccessTokenInput = { client, sub: subject.sub, scope }
  if (resource !== undefined) input.audience = resource.audience
  input.ttl = Math.min(resource?.ttl ?? ctx.options.ttl.accessToken, decision.ttl ?? Number.POSITIVE_INFINITY)
  if (subject.grantId !== undefined) input.grantId = subject.grantId
  // The token joins the subject's family, or the one just started for its refresh token (under the same grant).
  if (family !== undefined) input.familyId = family.familyId
  else if (subject.familyId !== undefined) input.familyId = subject.familyId
  if (subject.authTime !== undefined) input.authTime = subject.authTime
  if (act !== undefined) input.act = act
  if (dpopJkt !== undefined) input.dpopJkt = dpopJkt
  // The host's claims hook, for subjects of ours (its accountId is one of our users).
  if (subject.issuer === ctx.issuer) {
    input.claims = (await tokenClaims(ctx, { client, accountId: subject.sub, scope, grantType: tokenExchangeGrantType, ...(resource === undefined ? {} : { resource: resource.resource }) })).accessToken
  }
  const access = await issueAccessToken(ctx, input)
  ctx.audit('token.issued', { clientId: client.client_id, accountId: subject.sub, grantType: tokenExchangeGrantType, ...(subject.grantId === undefined ? {} : { grantId: subject.grantId }) })
  ctx.audit('token.exchanged', {
    clientId: client.client_id,
    accountId: subject.sub,
    subjectIssuer: subject.issuer,
    issuedTokenType: tokenTypes.accessToken,
    delegation: act !== undefined,
    ...(act === undefined ? {} : { actor: act.sub }),
    ...(resource === undefined ? {} : { audience: resource.resource }),
  })
  const response: TokenResponse = {
    access_token: access.token,
    issued_token_type: tokenTypes.accessToken,
    token_type: dpopJkt === undefined ? 'Bearer' : 'DPoP',
    expires_in: access.expiresIn,
  }
  if (scope !== '') response.scope = scope
  if (family !== undefined) {
    await family.saved
    if (family.token !== undefined) response.refresh_token = family.token
  }
  return response
}

/**
 * The token family behind a refresh token the policy granted (RFC 8693 §2.2.1): only for a
 * subject of ours under a live grant of that user, to a client registered for the
 * `refresh_token` grant; otherwise undefined (no refresh token). A family of its own under the
 * subject's grant, so revoking the grant (the user's consent) ends it, and a replay of one of
 * its refresh tokens ends only it; its refreshes keep the exchange's audience and `act`.
 */
async function startExchangeFamily (
  ctx: ProviderContext,
  client: ClientRecord,
  subject: ReadToken,
  issued: { scope: string, resource?: string, act?: ActorClaim, dpopJkt?: string }
): Promise<{ familyId: string, token: string | undefined, saved: Promise<unknown> } | undefined> {
  if (subject.issuer !== ctx.issuer || subject.grantId === undefined || !client.grant_types.includes('refresh_token')) return undefined
  const grant = await ctx.store.getGrant(subject.grantId)
  if (grant === undefined || grant.accountId !== subject.sub) return undefined
  const familyId = randomToken(16)
  const started = startFamily(ctx, client, {
    clientId: client.client_id,
    grantId: grant.grantId,
    accountId: subject.sub,
    scope: issued.scope,
    authTime: subject.authTime ?? grant.createdAt,
    ...(issued.resource === undefined ? {} : { resources: [issued.resource] }),
    exchange: issued.act === undefined ? {} : { act: issued.act },
  }, familyId, grant.expiresAt, issued.dpopJkt)
  return { familyId, ...started }
}

/**
 * A refresh of a family a token exchange started: an access token of the exchange's shape
 * (its audience, its `act`, the family's scope or less), never an ID token, and the rotated
 * refresh token. RFC 6749 §5.1's response (the refresh is not itself an exchange).
 */
export async function exchangedRefreshResponse (
  ctx: ProviderContext,
  client: ClientRecord,
  family: RefreshFamilyRecord,
  issued: { scope: string, resource: TokenResource | undefined, refreshToken: string, dpopJkt: string | undefined }
): Promise<TokenResponse> {
  const scope = issued.resource?.scope ?? issued.scope
  const input: AccessTokenInput = { client, sub: family.accountId, scope, grantId: family.grantId, familyId: family.familyId, authTime: family.authTime }
  if (issued.resource !== undefined) {
    input.audience = issued.resource.audience
    input.ttl = issued.resource.ttl
  }
  if (family.exchange?.act !== undefined) input.act = family.exchange.act
  if (issued.dpopJkt !== undefined) input.dpopJkt = issued.dpopJkt
  input.claims = (await tokenClaims(ctx, { client, accountId: family.accountId, scope, grantType: 'refresh_token', ...(issued.resource === undefined ? {} : { resource: issued.resource.resource }) })).accessToken
  const access = await issueAccessToken(ctx, input)
  ctx.audit('token.issued', { clientId: client.client_id, accountId: family.accountId, grantType: 'refresh_token', grantId: family.grantId })
  const response: TokenResponse = {
    access_token: access.token,
    token_type: issued.dpopJkt === undefined ? 'Bearer' : 'DPoP',
    expires_in: access.expiresIn,
    refresh_token: issued.refreshToken,
  }
  if (scope !== '') response.scope = scope
  return response
}

/**
 * draft-ietf-oauth-identity-assertion-authz-grant §4.2–4.3: the ID-JAG for a signed-in user,
 * from the client's ID token (whose `aud` must be the client) or its refresh token, for the
 * authorization server `audience` (its issuer identifier), optionally for one `resource` there.
 * Always decided by the policy (there is no safe default for asserting a user elsewhere).
 */
async function issueIdJag (ctx: ProviderContext, params: Params, client: ClientRecord): Promise<TokenResponse> {
  if (params.subject_token_type !== tokenTypes.idToken && params.subject_token_type !== tokenTypes.refreshToken) {
    throw new OAuthError('invalid_request', 'an ID-JAG is issued for an id_token or refresh_token subject_token')
  }
  if (params.actor_token !== undefined) throw new OAuthError('invalid_request', 'actor_token is not used when requesting an ID-JAG')
  const audiences = [params.audience ?? []].flat()
  const audience = audiences[0]
  if (audiences.length !== 1 || audience === undefined || !/^https?:\/\/[^?#]+$/.test(audience)) {
    throw new OAuthError('invalid_request', 'audience must be the issuer identifier of one authorization server')
  }
  const resources = [params.resource ?? []].flat()
  if (resources.length > 1 || (resources[0] !== undefined && normalizeResource(resources[0]) === undefined)) {
    throw new OAuthError('invalid_target', 'resource must be one absolute URI without a fragment')
  }
  const subject = await readExchangeToken(ctx, client, 'subject_token', params.subject_token, params.subject_token_type)
  const scope = [...scopeSet(params.scope)].join(' ')
  // No safe default for asserting a user to another authorization server: only a policy allows it.
  const policyRequest: TokenExchangeRequest = { client, subject: publicView(subject), requestedTokenType: 'id-jag', audience, scope, allowedByDefault: false }
  if (resources[0] !== undefined) policyRequest.resource = resources[0]
  const decision = await decide(ctx, policyRequest)
  const granted = narrowScope(scope, decision.scope)
  const iat = nowSeconds()
  const ttl = Math.min(ctx.options.tokenExchange.idJagTtl, decision.ttl ?? Number.POSITIVE_INFINITY)
  const payload: Record<string, unknown> = {
    iss: ctx.issuer,
    sub: subject.sub,
    aud: audience,
    client_id: decision.clientId ?? client.client_id,
    jti: randomToken(16),
    exp: iat + ttl,
    iat,
  }
  if (resources[0] !== undefined) payload.resource = resources[0]
  if (granted !== '') payload.scope = granted
  if (subject.authTime !== undefined) payload.auth_time = subject.authTime
  if (subject.acr !== undefined) payload.acr = subject.acr
  if (subject.amr !== undefined) payload.amr = subject.amr
  // RS256 where held: the algorithm every authorization server accepts (as for ID tokens).
  const key = ctx.keys.signingKey('RS256') ?? accessTokenSigner(ctx)
  const assertion = await signJwt(key, idJagType, payload)
  ctx.audit('token.issued', { clientId: client.client_id, accountId: subject.sub, grantType: tokenExchangeGrantType })
  ctx.audit('token.exchanged', { clientId: client.client_id, accountId: subject.sub, subjectIssuer: ctx.issuer, issuedTokenType: tokenTypes.idJag, delegation: false, audience })
  // §4.2.2: token_type N_A (not an access token); scope always sent (the request may have been narrowed).
  const response: TokenResponse = { access_token: assertion, issued_token_type: tokenTypes.idJag, token_type: 'N_A', expires_in: ttl }
  if (granted !== '') response.scope = granted
  return response
}

/** The policy's answer, or the safe default's when the host set none; a refusal is `invalid_request` (RFC 8693 §2.2.2). */
async function decide (ctx: ProviderContext, request: TokenExchangeRequest): Promise<TokenExchangeDecision> {
  const policy = ctx.options.tokenExchange.policy
  const decision = policy === undefined ? (request.allowedByDefault ? {} : undefined) : await policy(request)
  if (decision === undefined || decision === false || typeof decision !== 'object' || decision === null) {
    throw new OAuthError('invalid_request', 'the token exchange is not allowed by the authorization server\'s policy')
  }
  return decision
}

/**
 * The one exchange allowed without a policy: a resource server (a declared resource whose
 * `clientId` is the authenticated client) exchanges an access token of ours that was issued for
 * it (`aud`) for a token to another declared resource, as a delegation (it is the actor, no actor
 * token), with no scope its registration does not hold.
 */
async function safeDefault (ctx: ProviderContext, request: TokenExchangeRequest, subject: ReadToken, hasActorToken: boolean): Promise<boolean> {
  if (hasActorToken || subject.tokenType !== tokenTypes.accessToken || subject.issuer !== ctx.issuer) return false
  if (request.resource === undefined || (await ctx.resources.find(request.resource))?.self !== false) return false
  const registered = clientScopes(request.client)
  if (![...scopeSet(request.scope)].every((value) => registered.has(value))) return false
  // The token's `aud` may name the API and /userinfo (includeUserinfoAudience): the API is the one with a client.
  for (const aud of [subject.audience ?? []].flat()) {
    const received = normalizeResource(aud)
    const receiver = received === undefined ? undefined : await ctx.resources.find(received)
    if (receiver?.clientId === request.client.client_id) return true
  }
  return false
}

/** The policy may only narrow: its `scope` is intersected with the proposed one. */
function narrowScope (scope: string, narrowed: string | undefined): string {
  if (narrowed === undefined) return scope
  const allowed = scopeSet(narrowed)
  return [...scopeSet(scope)].filter((value) => allowed.has(value)).join(' ')
}

/** What the host's policy is shown: no grant or family ids. */
function publicView (read: ReadToken): ReadToken {
  const { grantId: _grant, familyId: _family, mayAct: _mayAct, dpopJkt: _dpop, ...view } = read
  return view
}
