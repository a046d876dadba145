import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { oidcProvider, type OidcProviderOptions } from '../../lib/index.js'
import { testKeys } from './keys.js'

export const ISSUER = 'http://localhost:3000'

/** Builds an app with the provider registered; `ready()` is awaited. Closed by the test's teardown. */
export async function buildApp (
  t: { teardown (fn: () => unknown): void },
  options: Partial<OidcProviderOptions> = {},
  fastifyOptions: FastifyServerOptions = {}
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, ...fastifyOptions })
  await app.register(oidcProvider, { issuer: ISSUER, keys: testKeys(), cookieSecret: 'x'.repeat(32), ...options })
  await app.ready()
  t.teardown(() => app.close())
  return app
}
