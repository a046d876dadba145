import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import { routes } from '../contracts/urls.js'
import { OAuthError } from '../contracts/errors.js'
import { authenticateClient, type ClientAuthBody } from '../clients/authenticate.js'
import { noStore, requireFormBody } from '../http/forms.js'
import { pushedRequest, resolveClientAndRedirect, serializeRequest, validateAuthorizationRequest, type RawParams } from '../interactions/request.js'
import { verifyRequestProof } from '../tokens/dpop.js'
import { savePushedRequest } from '../interactions/par-store.js'

/**
 * The pushed authorization request endpoint (RFC 9126 §2): the client authenticates as at
 * the token endpoint (public clients by client_id), the request is validated exactly as
 * /authorize validates it, and a single-use `request_uri` comes back (201, §2.2). Errors are
 * JSON (§2.3), never redirects. A DPoP proof binds the code to its key (RFC 9449 §10.1).
 */
export async function parRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  app.post(routes.par, { preValidation: requireFormBody }, async (request, reply) => {
    const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as RawParams
    for (const [name, value] of Object.entries(body)) {
      if (Array.isArray(value)) throw new OAuthError('invalid_request', `parameter "${name.slice(0, 40).replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?')}" must appear once`)
    }
    const client = await authenticateClient(ctx, request, body as ClientAuthBody, { endpoint: 'par', allowPublic: true })
    // §2.1: "request_uri ... MUST NOT be provided"; request objects are not supported at all.
    if (body.request_uri !== undefined) throw new OAuthError('invalid_request', 'request_uri must not be pushed (RFC 9126 section 2.1)')
    if (body.request !== undefined) throw new OAuthError('request_not_supported', 'the request parameter is not supported')
    const params: RawParams = { ...body, client_id: client.client_id, [pushedRequest]: true }
    for (const name of ['client_secret', 'client_assertion', 'client_assertion_type']) delete params[name]
    const { redirectUri } = await resolveClientAndRedirect(ctx, params)
    const authorization = validateAuthorizationRequest(ctx, params, client, redirectUri)
    const proofJkt = await verifyRequestProof(ctx, request, reply, ctx.urls.par)
    if (proofJkt !== undefined) {
      // RFC 9449 §10.1: with both, the proof's key must be the one dpop_jkt names.
      if (authorization.dpopJkt !== undefined && authorization.dpopJkt !== proofJkt) {
        throw new OAuthError('invalid_dpop_proof', 'dpop_jkt does not match the DPoP proof key')
      }
      authorization.dpopJkt = proofJkt
    }
    const saved = await savePushedRequest(ctx, { clientId: client.client_id, params: serializeRequest(authorization) }, ctx.options.par.ttl)
    noStore(reply)
    reply.code(201)
    return { request_uri: saved.requestUri, expires_in: saved.expiresIn }
  })
}
