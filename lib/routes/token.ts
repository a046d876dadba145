import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import type { ProviderContext } from '../contracts/context.js'
import { routes } from '../contracts/urls.js'
import { OAuthError } from '../contracts/errors.js'
import { authenticateClient } from '../clients/authenticate.js'
import { grantRegistry } from '../grants/index.js'
import { noStore, requireFormBody } from '../http/forms.js'
import { allowCorsFor } from '../http/cors.js'
import { verifyRequestProof } from '../tokens/dpop.js'

/** What every token request carries; each grant validates its own parameters on top. */
const TokenBody = Type.Object({
  grant_type: Type.String({ minLength: 1 }),
  client_id: Type.Optional(Type.String()),
  client_secret: Type.Optional(Type.String()),
})

/**
 * The successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3) as a response schema, so
 * Fastify serializes it with a compiled fast-json-stringify function instead of JSON.stringify
 * of an unknown shape. Other members (none today) would still be sent: additionalProperties.
 */
export const tokenResponseSchema = {
  type: 'object',
  properties: {
    access_token: { type: 'string' },
    token_type: { type: 'string' },
    expires_in: { type: 'integer' },
    scope: { type: 'string' },
    id_token: { type: 'string' },
    refresh_token: { type: 'string' },
    issued_token_type: { type: 'string' },
  },
  additionalProperties: true,
} as const

/**
 * The token endpoint (RFC 6749 §3.2): dispatches on `grant_type` to the grant registry.
 * Order of checks: body shape (400 `invalid_request`), grant type (400 `unsupported_grant_type`),
 * the grant's parameters, client authentication (401 `invalid_client`), the client's registered
 * grant types (400 `unauthorized_client`), then the grant itself.
 */
export async function tokenRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  const registry = grantRegistry()
  const supportedGrantTypes = [...registry.keys()].join(', ')
  app.post<{ Body: Static<typeof TokenBody> }>(routes.token, {
    schema: { body: TokenBody, response: { 200: tokenResponseSchema } },
    preValidation: requireFormBody,
  }, async (request, reply) => {
    const body = request.body
    const grant = registry.get(body.grant_type)
    if (grant === undefined) {
      // The client's value is not echoed back (no reflection of request input); the supported
      // ones say what to send instead.
      throw new OAuthError('unsupported_grant_type', `the grant_type is not supported (supported: ${supportedGrantTypes})`)
    }
    const params = grant.parse(body)
    if (grant.handler.handleAnonymous !== undefined && presentsNoClient(request.headers.authorization, body)) {
      await verifyRequestProof(ctx, request, reply, ctx.urls.token)
      const response = await grant.handler.handleAnonymous(ctx, params, request)
      noStore(reply)
      return response
    }
    const client = await authenticateClient(ctx, request, body, {
      endpoint: 'token',
      allowPublic: grant.handler.allowPublicClients,
    })
    allowCorsFor(request, client)
    if (!client.grant_types.includes(grant.handler.grantType)) {
      throw new OAuthError('unauthorized_client', `the client is not registered for grant_type '${grant.handler.grantType}'`)
    }
    // RFC 9449 §5: a DPoP proof binds the tokens issued here to its key (grants read it).
    await verifyRequestProof(ctx, request, reply, ctx.urls.token, client)
    const response = await grant.handler.handle(ctx, params, client, request)
    noStore(reply)
    return response
  })
}

/** No client credentials of any kind (RFC 6749 §2.3, RFC 7521 §4.2). */
function presentsNoClient (authorization: string | undefined, body: Record<string, unknown>): boolean {
  return authorization === undefined && body.client_id === undefined && body.client_secret === undefined &&
    body.client_assertion === undefined && body.client_assertion_type === undefined
}
