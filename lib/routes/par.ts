import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import { routes } from '../contracts/urls.js'
import { OAuthError } from '../contracts/errors.js'
import { authenticateClient, type ClientAuthBody } from '../clients/authenticate.js'
import { noStore, requireFormBody } from '../http/forms.js'
import { verifyRequestProof } from '../tokens/dpop.js'
import { parsePushedRequest, storePushedRequest } from '../interactions/par.js'
import type { RawParams } from '../interactions/types.js'

/** The parameters client authentication reads (RFC 6749 §2.3.1, RFC 7523 §2.2). */
const credentialParams = ['client_id', 'client_secret', 'client_assertion', 'client_assertion_type']

/**
 * The pushed authorization request endpoint (RFC 9126 §2): the client authenticates as at
 * the token endpoint (public clients by client_id), the request is validated by the parser
 * /authorize uses (§2.1), and a single-use `request_uri` comes back (201, §2.2). Errors are
 * JSON (§2.3), never redirects. A DPoP proof binds the code to its key (RFC 9449 §10.1).
 */
export async function parRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  app.post(routes.par, { preValidation: requireFormBody }, async (request, reply) => {
    const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as RawParams
    // RFC 6749 §3.1: no credential may be ambiguous when the client authenticates; the parser
    // checks every other parameter (RFC 8707 §2: `resource` may repeat).
    for (const name of credentialParams) {
      if (Array.isArray(body[name])) throw new OAuthError('invalid_request', `parameter "${name}" must appear once`)
    }
    const client = await authenticateClient(ctx, request, body as ClientAuthBody, { endpoint: 'par', allowPublic: true })
    const authorization = await parsePushedRequest(ctx, client, body)
    const proofJkt = await verifyRequestProof(ctx, request, reply, ctx.urls.par)
    const saved = await storePushedRequest(ctx, authorization, proofJkt)
    noStore(reply)
    reply.code(201)
    return { request_uri: saved.requestUri, expires_in: saved.expiresIn }
  })
}
