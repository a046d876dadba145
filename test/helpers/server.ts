import { createServer } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { oidcProvider, type OidcProviderOptions } from '../../lib/index.js'
import { testKeys } from './keys.js'

/** A free loopback port (the issuer must be known before the app listens). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

/**
 * Starts the provider on a real loopback socket, with an issuer matching its URL, for tests
 * that drive it with openid-client or a browser. Closed by the test's teardown.
 */
export async function startServer (
  t: { teardown (fn: () => unknown): void },
  options: Partial<OidcProviderOptions> = {}
): Promise<{ app: FastifyInstance, issuer: string, port: number }> {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const app = Fastify({ logger: false })
  await app.register(oidcProvider, { issuer, keys: testKeys(), cookieSecret: 'x'.repeat(32), ...options })
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { app, issuer, port }
}
