import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import { routes } from '../contracts/urls.js'
import { documentHeaders } from './discovery.js'

/** The public keys (RFC 7517 §5): current signer and keys kept for rotation, never private members. */
export async function jwksRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  const headers = documentHeaders('application/jwk-set+json; charset=utf-8')
  // The key ring serializes the set once per (re)load; kept here as bytes until it changes.
  let text = ctx.keys.jwksBody
  let bytes = Buffer.from(text)
  app.get(routes.jwks, (_request, reply) => {
    if (ctx.keys.jwksBody !== text) {
      text = ctx.keys.jwksBody
      bytes = Buffer.from(text)
    }
    reply.headers(headers).send(bytes)
  })
}
