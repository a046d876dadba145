/**
 * The example API: `npm run example:api`.
 *
 * Two Fastify apps in one process: the example provider on PORT (as `npm start`, same
 * environment) with a resource server `http://127.0.0.1:$API_PORT/` declared (scopes
 * `notes:read`, `notes:write`), and a notes API on API_PORT protected by `oidcResourceServer`
 * with the provider's keys fetched over HTTP (remote JWKS), as a separate deployment would:
 *
 *   GET  /notes       requires notes:read
 *   POST /notes       requires notes:write  (JSON body { "text": "..." })
 *   GET  /notes/live  requires notes:read and asks the provider's /introspect (revocation-aware)
 *
 * Environment: everything `npm start` reads, plus API_PORT (default 4000), API_CLIENT_ID and
 * API_CLIENT_SECRET (the API's introspection credentials; see .env.example).
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { fileURLToPath } from 'node:url'
import { oidcResourceServer } from '../lib/resource-server/index.js'
import { buildExampleServer } from './server.js'
import { envVar, loadDotEnv, readCommonEnv, runExample, type ExampleEnv } from './env.js'

/** Development default only: set API_CLIENT_SECRET anywhere else. */
const developmentSecret = 'notes-api-development-secret'

export interface ExampleApi {
  provider: FastifyInstance
  api: FastifyInstance
  resource: string
  apiPort: number
  close: () => Promise<void>
}

/** Builds both apps from environment variables (the test calls this with its own env). */
export async function buildExampleApi (env: ExampleEnv = process.env): Promise<ExampleApi> {
  const apiPort = envVar.integer(env, 'API_PORT', { min: 1, max: 65_535, expected: 'a TCP port number from 1 to 65535' }) ?? 4000
  const resource = `http://127.0.0.1:${apiPort}/`
  const clientId = envVar.string(env, 'API_CLIENT_ID') ?? 'notes-api'
  const clientSecret = envVar.string(env, 'API_CLIENT_SECRET') ?? developmentSecret
  const { app: provider, config } = await buildExampleServer(env, {
    resourceServers: [{
      resource,
      name: 'Notes API',
      scopes: { 'notes:read': 'Read your notes', 'notes:write': 'Create notes' },
      introspection: { clientId, clientSecret },
    }],
  })
  if (clientSecret === developmentSecret) provider.log.warn('example API: API_CLIENT_SECRET is the development default')

  const api = Fastify({ logger: { level: config.logLevel } })
  await api.register(oidcResourceServer, {
    resource,
    issuer: provider.oidc.issuer,
    scopes: ['notes:read', 'notes:write'],
    introspection: { clientId, clientSecret },
    resourceName: 'Notes API',
  })
  // Demo storage: notes per user (or per client, for client_credentials tokens), in memory.
  const notes = new Map<string, string[]>()
  const mine = (sub: string): string[] => notes.get(sub) ?? []

  api.get('/notes', { config: { accessToken: { scopes: ['notes:read'] } } }, async (request) => {
    return { sub: request.accessToken!.claims.sub, notes: mine(request.accessToken!.claims.sub) }
  })
  api.post<{ Body: { text?: unknown } }>('/notes', { config: { accessToken: { scopes: ['notes:write'] } } }, async (request, reply) => {
    const text = request.body?.text
    if (typeof text !== 'string' || text === '' || text.length > 1000) {
      return await reply.code(400).send({ error: 'invalid_request', error_description: 'text must be a string of 1 to 1000 characters' })
    }
    const sub = request.accessToken!.claims.sub
    notes.set(sub, [...mine(sub), text])
    return await reply.code(201).send({ sub, notes: mine(sub) })
  })
  api.get('/notes/live', { config: { accessToken: { scopes: ['notes:read'], introspect: true } } }, async (request) => {
    return { sub: request.accessToken!.claims.sub, notes: mine(request.accessToken!.claims.sub), introspected: true }
  })
  return {
    provider,
    api,
    resource,
    apiPort,
    close: async () => { await Promise.all([api.close(), provider.close()]) },
  }
}

async function main (): Promise<void> {
  loadDotEnv()
  const example = await buildExampleApi()
  const config = readCommonEnv(process.env)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { example.close().then(() => process.exit(0), () => process.exit(1)) })
  }
  await example.provider.listen({ port: config.port, host: config.host })
  await example.api.listen({ port: example.apiPort, host: config.host })
  example.api.log.info(`Notes API ready: ${example.resource} (metadata: ${example.api.resourceServer.metadataUrl})`)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  runExample('example API', main)
}
