/**
 * Health (issue 19): liveness always answers; readiness pings the store, so it is 503 while a
 * private redis-server is stopped and 200 again once it is back, over real HTTP and through the
 * host API (`app.oidc.health`). The routes are small JSON, `Cache-Control: no-store`, no CORS.
 */
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { MemoryStore, oidcProvider, RedisStore, type OidcProviderOptions, type Store } from '../../lib/index.js'
import { redisOptions } from '../../examples/redis.js'
import { testKeys } from '../helpers/keys.js'
import { requireRedisServer, startRedisServer } from '../helpers/redis.js'
import { freePort } from '../helpers/server.js'

/** How long a readiness answer may take while Redis is down (health.timeoutMs is 1000 by default). */
const BOUND_MS = 2500

async function start (t: { teardown (fn: () => unknown): void }, options: Partial<OidcProviderOptions>): Promise<{ app: FastifyInstance, base: string }> {
  const port = await freePort()
  const app = Fastify({ logger: false })
  await app.register(oidcProvider, { issuer: `http://127.0.0.1:${port}`, keys: testKeys(), cookieSecret: 'h'.repeat(32), ...options })
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { app, base: `http://127.0.0.1:${port}` }
}

/** The store with one member replaced (undefined: removed), everything else its own. */
function withMethod (store: Store, name: keyof Store, replacement: unknown): Store {
  return new Proxy(store, {
    get (target, property) {
      if (property === name) return replacement
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

/** Polls `check` until it is true or the deadline passes (no fixed sleeps). */
async function eventually (check: () => Promise<boolean>, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return false
}

if (requireRedisServer(t)) {
  t.test('readiness is 503 while Redis is stopped and 200 after it restarts; liveness stays 200', async (t) => {
    const redis = await startRedisServer(t)
    // The example's ioredis options: fail fast while disconnected, reconnect forever.
    const client = new Redis(redis.url, redisOptions)
    client.on('error', () => {})
    t.teardown(() => { client.disconnect() })
    const { app, base } = await start(t, {
      store: new RedisStore({ client, prefix: 'oidc-health-test:' }),
      health: { route: '/health' },
      metrics: { route: '/metrics' },
    })
    t.ok(await eventually(async () => (await fetch(`${base}/health/ready`)).status === 200), 'ready once connected')

    const ready = await fetch(`${base}/health/ready`, { headers: { origin: 'https://evil.example' } })
    t.equal(ready.status, 200, 'GET /health/ready: 200')
    t.same(await ready.json(), { status: 'ok', store: 'ok' }, 'a small JSON body')
    t.equal(ready.headers.get('cache-control'), 'no-store', 'no-store: a cached "ok" would hide an outage')
    t.match(ready.headers.get('content-type'), /^application\/json/)
    t.equal(ready.headers.get('access-control-allow-origin'), null, 'no CORS, even when an Origin is sent')
    const live = await fetch(`${base}/health/live`, { headers: { origin: 'https://evil.example' } })
    t.equal(live.status, 200, 'GET /health/live: 200')
    t.same(await live.json(), { status: 'ok' })
    t.equal(live.headers.get('cache-control'), 'no-store')
    t.equal(live.headers.get('access-control-allow-origin'), null)
    t.same(await app.oidc.health.ready(), { status: 'ok', store: 'ok' }, 'host API: ready')

    await redis.stop()
    const started = Date.now()
    const down = await fetch(`${base}/health/ready`)
    const elapsed = Date.now() - started
    t.equal(down.status, 503, 'Redis stopped: /health/ready 503')
    t.same(await down.json(), { status: 'unavailable', store: 'unavailable' }, 'the body says the store is unavailable')
    t.equal(down.headers.get('cache-control'), 'no-store')
    t.ok(elapsed < BOUND_MS, `answered within the bound (${elapsed} ms)`)
    t.same(await app.oidc.health.ready(), { status: 'unavailable', store: 'unavailable' }, 'host API: not ready')
    const stillLive = await fetch(`${base}/health/live`)
    t.equal(stillLive.status, 200, 'liveness stays 200: an outage is no reason to restart the provider')
    await stillLive.text()
    const metrics = await (await fetch(`${base}/metrics`)).text()
    t.match(metrics, /oidc_store_operation_errors_total\{operation="ping"\} [1-9]/, 'the failed pings are counted as store errors')

    await redis.start()
    t.ok(await eventually(async () => (await fetch(`${base}/health/ready`)).status === 200), 'Redis restarted: /health/ready 200 again, without a restart of the provider')
    t.same(await app.oidc.health.ready(), { status: 'ok', store: 'ok' }, 'host API: ready again')
  })
}

t.test('host API without routes: live, ready, and not ready once closing', async (t) => {
  const { app, base } = await start(t, {})
  t.same(app.oidc.health.live(), { status: 'ok' })
  t.same(await app.oidc.health.ready(), { status: 'ok', store: 'ok' }, 'the memory store is always ready')
  const res = await fetch(`${base}/health/ready`)
  t.equal(res.status, 404, 'no routes unless the host mounts them')
  await res.text()
  await app.close()
  t.same(await app.oidc.health.ready(), { status: 'unavailable' }, 'after close began: not ready (drain traffic)')
})

t.test('readiness waits for the ping at most health.timeoutMs', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  // A backend that never answers (a frozen Redis without a command timeout).
  const { app } = await start(t, { store: withMethod(store, 'ping', async () => await new Promise<void>(() => {})), health: { timeoutMs: 200 } })
  const started = Date.now()
  t.same(await app.oidc.health.ready(), { status: 'unavailable', store: 'unavailable' }, 'a ping without an answer: not ready')
  const elapsed = Date.now() - started
  t.ok(elapsed >= 150 && elapsed < 2000, `gave up after the timeout (${elapsed} ms)`)
})

t.test('a store without ping(): readiness reads instead', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const reads: string[] = []
  const legacy = withMethod(withMethod(store, 'ping', undefined), 'getCounter', async (key: string) => { reads.push(key); return await store.getCounter(key) })
  const { app } = await start(t, { store: legacy })
  // The provider pings the store once when it is ready (one warning when it cannot reach it).
  const atStart = reads.length
  t.same(await app.oidc.health.ready(), { status: 'ok', store: 'ok' }, 'ready')
  t.same(reads.slice(atStart), ['health:ping'], 'one harmless read took the ping\'s place')
})

t.test('routes under the plugin prefix, and the option is checked', async (t) => {
  const { base } = await start(t, { prefix: '/oidc', health: { route: '/ops/' } })
  const live = await fetch(`${base}/oidc/ops/live`)
  t.equal(live.status, 200, 'GET {prefix}{route}/live')
  await live.text()
  const ready = await fetch(`${base}/oidc/ops/ready`)
  t.equal(ready.status, 200, 'GET {prefix}{route}/ready')
  await ready.text()
  const head = await fetch(`${base}/oidc/ops/ready`, { method: 'HEAD' })
  t.equal(head.status, 200, 'HEAD works too (probes that send it)')

  const bad = Fastify({ logger: false })
  t.teardown(() => bad.close())
  await t.rejects(async () => { await bad.register(oidcProvider, { issuer: 'http://localhost:3000', keys: testKeys(), cookieSecret: 'h'.repeat(32), health: { route: 'health' } }); await bad.ready() },
    { code: 'FST_OIDC_INVALID_OPTION', message: /health\.route/ }, 'a relative route is refused')
})
