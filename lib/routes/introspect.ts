import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import type { ProviderContext } from '../contracts/context.js'
import { routes } from '../contracts/urls.js'
import { authenticateClient } from '../clients/authenticate.js'
import { findClientToken, type FoundToken } from '../tokens/lookup.js'
import { noStore, requireFormBody } from '../http/forms.js'
import { authenticateResourceServer, findResourceServerToken } from '../resources/introspection.js'
import { allowCorsFor } from '../http/cors.js'
import type { JWTPayload } from 'jose'
import { registeredClaims } from '../tokens/scopes.js'

const IntrospectBody = Type.Object({
  token: Type.String({ minLength: 1 }),
  token_type_hint: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  client_secret: Type.Optional(Type.String()),
})

/** RFC 7662 §2.2 members, for an active token. */
export interface IntrospectionResponse {
  active: boolean
  scope?: string
  client_id?: string
  sub?: string
  token_type?: string
  exp?: number
  iat?: number
  iss?: string
  aud?: string | string[]
  jti?: string
  cnf?: { jkt: string }
  /** Extension members: the claims hook's (RFC 7662 §2.2). */
  [claim: string]: unknown
}

/** RFC 7662 §2.2 as a response schema (compiled serializer); extension members pass through. */
const introspectionResponseSchema = {
  type: 'object',
  properties: {
    active: { type: 'boolean' },
    scope: { type: 'string' },
    client_id: { type: 'string' },
    sub: { type: 'string' },
    token_type: { type: 'string' },
    exp: { type: 'integer' },
    iat: { type: 'integer' },
    iss: { type: 'string' },
    jti: { type: 'string' },
  },
  additionalProperties: true,
} as const

/**
 * Token introspection (RFC 7662). Only confidential clients may ask, and only about their own
 * tokens: anything else (expired, revoked, unknown, malformed, another client's) is exactly
 * `{ "active": false }`, so the answer leaks nothing about other clients' tokens (§4).
 */
export async function introspectRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  app.post<{ Body: Static<typeof IntrospectBody> }>(routes.introspect, {
    schema: { body: IntrospectBody, response: { 200: introspectionResponseSchema } },
    preValidation: requireFormBody,
  }, async (request, reply) => {
    // RFC 7662 §2.1: a resource server asks about tokens meant for it (their `aud` names it).
    const server = await authenticateResourceServer(ctx, request, request.body)
    if (server !== undefined) {
      const verified = await findResourceServerToken(ctx, request.body.token, server)
      noStore(reply)
      return describe(ctx.issuer, verified === undefined ? undefined : { type: 'access_token', ...verified })
    }
    const client = await authenticateClient(ctx, request, request.body, { endpoint: 'introspect', allowPublic: false })
    allowCorsFor(request, client)
    const found = await findClientToken(ctx, request.body.token, client.client_id, request.body.token_type_hint)
    noStore(reply)
    // Issue 12: a client whose RFC 7592 update removed the refresh_token grant holds no live refresh token.
    if (found?.type === 'refresh_token' && !client.grant_types.includes('refresh_token')) return describe(ctx.issuer, undefined)
    return describe(ctx.issuer, found)
  })
}

/**
 * RFC 7662 §2.2 allows extension members: the claims the host's `tokenClaims.accessToken` hook
 * put in the (already verified) access token, so a resource server that introspects sees what
 * one that verifies the JWT sees. Registered and private claims are never copied from here.
 * They are written into `response` (the payload the verifier already decoded, not the token
 * decoded a second time), before the registered members, as the response always listed them.
 */
function copyHookClaims (payload: JWTPayload, response: Record<string, unknown>): void {
  for (const name of Object.keys(payload)) {
    // `__proto__` would set the response's prototype rather than a member (it was never sent).
    if (registeredClaims.has(name) || name === 'active' || name === 'token_type' || name === '__proto__') continue
    response[name] = payload[name]
  }
}

function describe (issuer: string, found: FoundToken | undefined): IntrospectionResponse {
  if (found === undefined) return { active: false }
  if (found.type === 'access_token') {
    const { claims } = found
    // Member by member into one object (issue 32): no copies of spread temporaries per request.
    const response: Record<string, unknown> = {}
    copyHookClaims(found.payload, response)
    response.active = true
    if (claims.scope !== undefined) response.scope = claims.scope
    response.client_id = claims.client_id
    response.sub = claims.sub
    // RFC 9449 §6.2: a DPoP-bound token is introspected with its key's thumbprint.
    response.token_type = claims.cnf === undefined ? 'Bearer' : 'DPoP'
    if (claims.cnf !== undefined) response.cnf = claims.cnf
    response.exp = claims.exp
    response.iat = claims.iat
    response.iss = claims.iss
    response.aud = claims.aud
    response.jti = claims.jti
    // RFC 8693 §4.1: who acts for the subject (a delegated token from a token exchange).
    if (claims.act !== undefined) response.act = claims.act
    return response as IntrospectionResponse
  }
  const { record } = found
  return {
    active: true,
    scope: record.scope,
    client_id: record.clientId,
    sub: record.accountId,
    token_type: 'refresh_token',
    exp: record.expiresAt,
    iat: record.issuedAt,
    iss: issuer,
  }
}
