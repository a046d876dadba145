import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../context.js'
import { routes } from '../urls.js'

/** The public keys (RFC 7517 §5): current signer and keys kept for rotation, never private members. */
export async function jwksRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  app.get(routes.jwks, async (_request, reply) => {
    // Short cache: after a rotation, relying parties see the new kid within minutes.
    reply.header('cache-control', 'public, max-age=300')
    reply.type('application/jwk-set+json; charset=utf-8')
    return ctx.keys.jwksBody
  })
}
