/**
 * Liveness and readiness (issue 19), for orchestrators and load balancers.
 *
 * - live: the process answers (the event loop runs). Nothing else is checked, so a Redis outage
 *   never makes an orchestrator restart a provider that would recover by itself.
 * - ready: the provider can serve flows: its store answers a ping within `health.timeoutMs`,
 *   and it is not shutting down. 503 while Redis is down: a load balancer sends users elsewhere.
 *
 * Costs nothing per request: the host API is a pair of functions, and the routes exist only when
 * the host mounts them (`health.route`).
 */
import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'

export interface HealthStatus {
  status: 'ok' | 'unavailable'
  /** Readiness only: whether the store answered its ping in time. */
  store?: 'ok' | 'unavailable'
}

/** What host code sees as `app.oidc.health`. */
export interface ProviderHealth {
  /** Always `{ status: 'ok' }` while the process can run code. */
  live (): HealthStatus
  /** `{ status: 'ok', store: 'ok' }`, or `unavailable` when the store does not answer in time or the app is closing. */
  ready (): Promise<HealthStatus>
}

export function createHealth (ctx: ProviderContext, app: FastifyInstance): ProviderHealth {
  let closing = false
  app.addHook('preClose', (done) => { closing = true; done() })
  const timeoutMs = ctx.options.health.timeoutMs
  return {
    live: () => ({ status: 'ok' }),
    async ready () {
      if (closing) return { status: 'unavailable' }
      try {
        await pingStore(ctx, timeoutMs)
        return { status: 'ok', store: 'ok' }
      } catch (error) {
        // Debug: probes repeat every few seconds, and the store's own outage is logged by its client.
        ctx.log.debug({ err: error }, 'fastify-oidc-provider: readiness: the store is unavailable')
        return { status: 'unavailable', store: 'unavailable' }
      }
    },
  }
}

/** One ping of the store, bounded by `timeoutMs`; throws when it fails or is late. */
async function pingStore (ctx: ProviderContext, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`the store did not answer its ping within ${timeoutMs} ms`)) }, timeoutMs)
  })
  try {
    // A store without ping() (written before it existed) gets a read nothing ever writes.
    const ping = ctx.store.ping !== undefined ? ctx.store.ping() : ctx.store.getCounter('health:ping')
    await Promise.race([ping, timedOut])
  } finally {
    clearTimeout(timer)
  }
}

/** Between two pings at start: a client still connecting (ioredis without an offline queue fails at once). */
const startRetryMs = 100

/**
 * Issue 26: the store is pinged once the app is ready, so an unreachable Redis is said at start,
 * in ONE warning, instead of by the first user's 503. A client still connecting gets
 * `health.timeoutMs` (pings every 100 ms); start is not failed (the store may come back, and
 * readiness reports it meanwhile).
 */
export function checkStoreAtStart (ctx: ProviderContext, app: FastifyInstance): void {
  const timeoutMs = ctx.options.health.timeoutMs
  app.addHook('onReady', async () => {
    const deadline = Date.now() + timeoutMs
    let lastError: unknown
    while (true) {
      const remaining = deadline - Date.now()
      if (remaining <= 0) break
      try {
        await pingStore(ctx, remaining)
        return
      } catch (error) {
        lastError = error
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(startRetryMs, Math.max(0, deadline - Date.now()))))
    }
    const cause = lastError instanceof Error ? lastError.message : String(lastError)
    ctx.log.warn({ err: lastError }, `fastify-oidc-provider: the store did not answer at start (${cause}); every endpoint that needs it answers 503 temporarily_unavailable, and readiness reports store "unavailable", until it does`)
  })
}

/**
 * `GET {route}/live` and `GET {route}/ready`: 200 or 503 with the small JSON status,
 * `Cache-Control: no-store` (a cached "ok" would hide an outage), and no CORS headers (probes
 * are not browsers; lib/http/cors.ts is not applied).
 */
export function registerHealthRoutes (app: FastifyInstance, health: ProviderHealth, route: string): void {
  const base = route.replace(/\/+$/, '')
  app.get(`${base}/live`, async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    return health.live()
  })
  app.get(`${base}/ready`, async (_request, reply) => {
    const status = await health.ready()
    reply.code(status.status === 'ok' ? 200 : 503).header('cache-control', 'no-store')
    return status
  })
}
