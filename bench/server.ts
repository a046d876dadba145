/**
 * The server under test, run as a child process of bench/run.ts so the load generator never
 * shares its event loop (or its CPU time slices) with the server.
 *
 * BENCH_MODE=provider (default): the provider as a host would deploy it: generated RS256 key
 *   (the same algorithm and size as the jose baseline), static clients from ./lib/config.ts, the
 *   bench user adapter (./users.ts), logger at LOG_LEVEL (default `warn`: a production host does
 *   not log every request at info), memory, Redis or PostgreSQL store (BENCH_STORE, REDIS_URL,
 *   BENCH_PREFIX; DATABASE_URL, BENCH_SCHEMA, BENCH_APPLICATION_NAME).
 *   BENCH_ALG (RS256, PS256, ES256, EdDSA; default RS256): the one generated key's algorithm,
 *   so every token the server signs uses it (the per-algorithm client_credentials scenarios).
 * BENCH_MODE=bare: a bare Fastify with `GET /` answering a small JSON: the framework's ceiling.
 *
 * Tells the parent it is listening with an IPC message `{ ready: true, port }`.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { oidcProvider, generatedKeys, MemoryStore, type SigningAlgorithm, type Store } from '../lib/index.js'
import { benchUsers } from './users.js'
import { serviceClient, supportedScopes, webClient } from './lib/config.js'
import { redisStoreClass } from './lib/redis-store.js'

/** Statements sent to PostgreSQL (BENCH_STORE=postgres), counted on every pooled connection. */
let statements = 0

/** The PostgreSQL store on a pool whose connections count what they send. */
async function postgresStore (app: FastifyInstance): Promise<Store> {
  const { default: pg } = await import('pg')
  const { PostgresStore } = await import('../lib/index.js')
  const pool = new pg.Pool({
    connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    application_name: process.env.BENCH_APPLICATION_NAME ?? 'fop-bench',
    statement_timeout: 2000,
    // Backends live for the whole run, so their CPU time can be read at the end.
    idleTimeoutMillis: 0,
  })
  pool.on('error', (err) => { app.log.warn({ err }, 'postgres') })
  pool.on('connect', (client) => {
    const send = client.query.bind(client) as (...args: unknown[]) => unknown
    client.query = ((...args: unknown[]) => { statements++; return send(...args) }) as typeof client.query
  })
  const store = new PostgresStore({ pool, schema: process.env.BENCH_SCHEMA ?? 'oidc_bench' })
  await store.migrate()
  statements = 0
  app.addHook('onClose', async () => { await store.close(); await pool.end() })
  return store
}

async function buildProvider (port: number): Promise<FastifyInstance> {
  const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'warn' } })
  let store: Store = new MemoryStore()
  if (process.env.BENCH_STORE === 'redis') {
    const RedisStore = await redisStoreClass()
    if (RedisStore === undefined) throw new Error('RedisStore is not exported by lib/index.ts')
    const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 })
    store = new RedisStore({ client, prefix: process.env.BENCH_PREFIX ?? 'bench:' })
    app.addHook('onClose', async () => { await client.quit() })
  } else if (process.env.BENCH_STORE === 'postgres') {
    store = await postgresStore(app)
  }
  await app.register(oidcProvider, {
    issuer: `http://127.0.0.1:${port}`,
    store,
    keys: generatedKeys({ algorithms: [(process.env.BENCH_ALG ?? 'RS256') as SigningAlgorithm] }),
    users: benchUsers(),
    cookieSecret: 'bench-cookie-secret-0123456789abcdef',
    scopes: supportedScopes,
    clients: [
      {
        client_id: serviceClient.client_id,
        client_secret: serviceClient.client_secret,
        grant_types: ['client_credentials'],
        response_types: [],
        scope: serviceClient.scope,
      },
      {
        client_id: webClient.client_id,
        client_secret: webClient.client_secret,
        redirect_uris: [webClient.redirect_uri],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: webClient.scope,
        client_name: 'Bench Web App',
      },
    ],
  })
  return app
}

function buildBare (): FastifyInstance {
  const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'warn' } })
  app.get('/', async () => ({ hello: 'world' }))
  return app
}

async function main (): Promise<void> {
  const port = Number(process.env.PORT)
  if (!Number.isInteger(port) || port <= 0) throw new Error('PORT must be set by the parent')
  const app = process.env.BENCH_MODE === 'bare' ? buildBare() : await buildProvider(port)
  await app.listen({ port, host: '127.0.0.1' })
  process.on('message', (message) => {
    if (message === 'close') app.close().then(() => process.exit(0), () => process.exit(1))
    // CPU time of the whole process (event loop and the thread pool that signs), for cpu-per-op.
    if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() })
    if (message === 'statements') process.send?.({ statements })
  })
  process.send?.({ ready: true, port })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
