import Type, { type Static } from 'typebox'
import type { FastifyRequest } from 'fastify'
import type { JWTPayload } from 'jose'
import type { ClientRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'
import { jwtBearerGrantType } from '../contracts/trust.js'
import { normalizeResource } from '../contracts/resource-uri.js'
import { clientScopes, issueAccessToken, scopeSet, type AccessTokenInput, type TokenResponse } from '../tokens/issue.js'
import { dpopJktOf } from '../tokens/dpop.js'
import { resolveTokenResource, type TokenResource } from '../resources/resolve.js'
import { verifyTrustedJwt } from '../trust/assertion.js'
import { onClientAuthFailure, refuseLockedClient } from '../clients/authenticate.js'
import type { GrantHandler } from './types.js'
import { ResourceParameter } from './types.js'

const body = Type.Object({
  assertion: Type.String({ minLength: 1 }),
  scope: Type.Optional(Type.String()),
  resource: ResourceParameter,
})

type Params = Static<typeof body>

/** Scopes about a user's login at this provider: an assertion grant issues no ID token or refresh token. */
const loginScopes = new Set(['openid', 'offline_access'])

/**
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1) in two profiles:
 *
 * - **ID-JAG** (draft-ietf-oauth-identity-assertion-authz-grant §4.3; MCP Enterprise-Managed
 *   Authorization), from an authenticated client: the assertion is an ID-JAG of a trusted
 *   enterprise identity provider, `aud` our issuer, `client_id` the authenticated client; the
 *   token is for the user (`sub`), its `aud` the asserted `resource`, its scope the intersection
 *   of the requested, asserted and registered scopes (RFC 6749 §3.3). No refresh token (the
 *   client comes back with a new ID-JAG).
 * - **Workload identity**, without client authentication (RFC 7521 §4.2): a workload's JWT from a
 *   trusted issuer, `aud` our token endpoint; `resource` required; the issuer's workload rules
 *   (`sub` → resources, scopes) bound the token, whose `sub` and `client_id` are the workload.
 */
export const jwtBearerGrant = {
  grantType: jwtBearerGrantType,
  body,
  // draft-ietf-oauth-identity-assertion-authz-grant §8.1: confidential clients only.
  allowPublicClients: false,
  async handle (ctx, params, client, request) {
    const { payload } = await verifyTrustedJwt(ctx, params.assertion, 'id-jag', [ctx.issuer])
    // §4.3: "The client_id claim MUST identify the same client as the client authentication".
    if (payload.client_id !== client.client_id) throw new OAuthError('invalid_grant', 'the assertion was issued for another client')
    const asserted = assertedResources(payload)
    const registered = [...clientScopes(client)].filter((value) => !loginScopes.has(value))
    const allowed = typeof payload.scope === 'string' ? registered.filter((value) => scopeSet(payload.scope as string).has(value)) : registered
    const scope = narrowed(params.scope ?? (typeof payload.scope === 'string' ? payload.scope : undefined), allowed)
    const resource = await resolveTokenResource(ctx, { requested: params.resource, granted: asserted, client, scope })
    return await respond(ctx, request, client, payload.sub as string, scope, resource, payload)
  },
  /**
   * RFC 7521 §4.2, RFC 6749 §10.10: without client authentication the assertion is the only
   * credential, so a refused one counts like a failed client authentication, per IP (there is
   * no client_id), on the same counter and limit (`rateLimit.clientAuthFailures`): one budget
   * per IP for guessing, whichever credential it guesses. Past it, 429 `invalid_client`.
   */
  async handleAnonymous (ctx, params, request) {
    await refuseLockedClient(ctx, undefined, request.ip)
    try {
      return await workloadToken(ctx, params, request)
    } catch (error) {
      // invalid_grant: the assertion itself was refused (signature, issuer, lifetime, replay, rules).
      if (error instanceof OAuthError && error.error === 'invalid_grant') {
        await onClientAuthFailure(ctx, { clientId: undefined, ip: request.ip, endpoint: 'token' })
      }
      throw error
    }
  },
} satisfies GrantHandler<typeof body>

async function workloadToken (ctx: ProviderContext, params: Params, request: FastifyRequest): Promise<TokenResponse> {
  if (typeof params.resource !== 'string') {
    throw new OAuthError('invalid_request', 'a workload assertion needs one resource parameter (client authentication is required otherwise)')
  }
  const { issuer, payload } = await verifyTrustedJwt(ctx, params.assertion, 'workload', [ctx.urls.token, ctx.issuer])
  const sub = payload.sub as string
  const rules = issuer.workloads.filter((rule) => rule.matches(sub))
  if (rules.length === 0) throw new OAuthError('invalid_grant', 'the workload is not allowed by its issuer\'s rules')
  const target = normalizeResource(params.resource)
  const rule = rules.find((candidate) => candidate.resources.some((resource) => normalizeResource(resource) === target))
  if (rule === undefined) throw new OAuthError('invalid_target', 'the workload may not get a token for this resource')
  const requested = params.scope === undefined ? undefined : scopeSet(params.scope)
  const extra = requested === undefined ? undefined : [...requested].find((value) => !rule.scopes.includes(value))
  if (extra !== undefined) throw new OAuthError('invalid_scope', `scope '${extra}' is not allowed for this workload`)
  const scope = requested === undefined ? rule.scopes.join(' ') : [...requested].join(' ')
  const client = workloadClient(sub, scope)
  const resource = await resolveTokenResource(ctx, { requested: target, granted: undefined, client, scope })
  return await respond(ctx, request, client, sub, scope, resource, payload)
}

/**
 * The workload as the client of its own token (RFC 9068 §2.2: `client_id`; as with
 * client_credentials, `sub` is the client itself). Never stored: it lives for one request.
 */
function workloadClient (sub: string, scope: string): ClientRecord {
  return {
    client_id: sub,
    token_endpoint_auth_method: 'private_key_jwt',
    redirect_uris: [],
    grant_types: [jwtBearerGrantType],
    response_types: [],
    scope,
    application_type: 'web',
    client_id_issued_at: 0,
  }
}

/** The ID-JAG's `resource` claim (one URI or several), normalised; undefined when it names none. */
function assertedResources (payload: JWTPayload): string[] | undefined {
  const claim = payload.resource
  if (claim === undefined) return undefined
  const values = Array.isArray(claim) ? claim : [claim]
  const resources = values.map((value) => typeof value === 'string' ? normalizeResource(value) : undefined)
  if (resources.length === 0 || resources.some((value) => value === undefined)) throw new OAuthError('invalid_grant', 'the assertion\'s resource claim is malformed')
  return resources as string[]
}

/** RFC 6749 §3.3: the requested scopes the assertion and the registration allow (all allowed ones without a request). */
function narrowed (requested: string | undefined, allowed: readonly string[]): string {
  if (requested === undefined) return allowed.join(' ')
  const wanted = scopeSet(requested)
  return allowed.filter((value) => wanted.has(value)).join(' ')
}

async function respond (
  ctx: ProviderContext,
  request: FastifyRequest,
  client: ClientRecord,
  sub: string,
  scope: string,
  resource: TokenResource | undefined,
  payload: JWTPayload
): Promise<TokenResponse> {
  const dpopJkt = dpopJktOf(request)
  const input: AccessTokenInput = { client, sub, scope: resource?.scope ?? scope }
  if (resource !== undefined) {
    input.audience = resource.audience
    input.ttl = resource.ttl
  }
  if (typeof payload.auth_time === 'number') input.authTime = payload.auth_time
  if (dpopJkt !== undefined) input.dpopJkt = dpopJkt
  const access = await issueAccessToken(ctx, input)
  ctx.audit('token.issued', { clientId: client.client_id, accountId: sub, grantType: jwtBearerGrantType })
  const response: TokenResponse = {
    access_token: access.token,
    token_type: dpopJkt === undefined ? 'Bearer' : 'DPoP',
    expires_in: access.expiresIn,
  }
  if (input.scope !== '') response.scope = input.scope
  return response
}
