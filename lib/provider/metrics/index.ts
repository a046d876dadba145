/**
 * Prometheus metrics of the provider (issue 19), opt-in with the `metrics` option. Loaded only
 * then (the plugin imports this module dynamically), so a provider without metrics neither
 * loads prom-client nor runs any of this: no listener, no hook, no store wrapper.
 *
 * Counters follow the typed security events (lib/contracts/events.ts), the one place where what happened
 * is already decided; the store is timed by a Proxy (store-instrumentation.ts); HTTP requests
 * by one onResponse hook on the provider's own routes. No label holds a token, a secret, a
 * username or a URL: `client` is a static client's id or `dynamic` (labels.ts), `route` is the
 * route pattern (`/register/:clientId`), never the request URL.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { Counter, Histogram, Registry } from 'prom-client'
import type { ClientRecord, Store } from '../../contracts/store.js'
import type { SecurityEventEmitter } from '../../contracts/events.js'
import { invalidOption } from '../../contracts/errors.js'
import { clientLabeller } from './labels.js'
import type { ResolvedMetricsOptions } from '../../contracts/metrics.js'
import { instrumentStore } from './store-instrumentation.js'

/** What host code sees as `app.oidc.metrics`. */
export interface ProviderMetrics {
  /** The registry holding the provider's metrics (the host's own when it passed one). */
  readonly registry: Registry
}

export interface MetricsRuntime extends ProviderMetrics {
  /** Where the registry is served, or false. */
  readonly route: string | false
  /** The store, timed. */
  instrumentStore (store: Store): Store
  /** Subscribes the counters to the provider's events. */
  listen (events: SecurityEventEmitter): void
  /** The onResponse hook of the provider's routes: duration by route pattern, method and status. */
  onResponse (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void
  /** Takes the metrics out of a host-owned registry again (on `app.close()`). */
  close (): void
}

/** Seconds. Store operations are sub-millisecond in memory, a round trip or two on Redis. */
const storeBuckets = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
/** Seconds. A token request is a few milliseconds of signatures; outages end at the store timeout. */
const httpBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

export function createMetrics (options: ResolvedMetricsOptions, staticClients: ReadonlyMap<string, ClientRecord>): MetricsRuntime {
  const registry = options.registry ?? new Registry()
  const p = options.prefix
  const registers = [registry]
  const client = clientLabeller(staticClients)
  const names: string[] = []
  /** A metric's full name; a name the registry already holds (a second provider) fails register. */
  const named = (name: string): string => {
    const full = `${p}${name}`
    if (registry.getSingleMetric(full) !== undefined) {
      for (const added of names) registry.removeSingleMetric(added)
      throw invalidOption('metrics.registry', `already holds ${full}; give each provider its own metrics.prefix`)
    }
    names.push(full)
    return full
  }

  const tokensIssued = new Counter({ name: named('tokens_issued_total'), help: 'Token responses issued, by grant type and client.', labelNames: ['grant_type', 'client'] as const, registers })
  const logins = new Counter({ name: named('logins_total'), help: 'Password logins: success, failure, or locked (refused during a lockout, or the failure that started one).', labelNames: ['result', 'client'] as const, registers })
  const graceHits = new Counter({ name: named('refresh_grace_hits_total'), help: 'Rotated refresh tokens retried within the grace window (answered with the same successor).', labelNames: ['client'] as const, registers })
  const refreshReuse = new Counter({ name: named('refresh_token_reuse_total'), help: 'Rotated refresh tokens used again outside the grace rule (the family was revoked).', labelNames: ['client'] as const, registers })
  const codeReplays = new Counter({ name: named('code_replays_total'), help: 'Authorization codes presented again after their first use.', labelNames: ['client'] as const, registers })
  const backchannel = new Counter({ name: named('backchannel_logout_deliveries_total'), help: 'Back-channel Logout Token deliveries, by result.', labelNames: ['result', 'client'] as const, registers })
  const clientMetadata = new Counter({ name: named('client_metadata_fetches_total'), help: 'Client metadata documents: fetched (ok), answered from the cache (cached), or failed (error).', labelNames: ['outcome'] as const, registers })
  const jwksUri = new Counter({ name: named('jwks_uri_fetches_total'), help: 'Fetches of clients\' jwks_uri for private_key_jwt, by outcome.', labelNames: ['outcome'] as const, registers })
  const clientAuthFailures = new Counter({ name: named('client_auth_failures_total'), help: 'Failed client authentications, by endpoint.', labelNames: ['endpoint'] as const, registers })
  const devices = new Counter({ name: named('device_authorizations_total'), help: 'Device authorizations (RFC 8628): requested, approved, denied, expired (polled after expiry).', labelNames: ['outcome', 'client'] as const, registers })
  const userCodeFailures = new Counter({ name: named('device_user_code_failures_total'), help: 'Wrong device user codes entered on the verification page.', registers })
  const storeDuration = new Histogram({ name: named('store_operation_duration_seconds'), help: 'Store operations, by operation (the Store method).', labelNames: ['operation'] as const, buckets: storeBuckets, registers })
  const storeErrors = new Counter({ name: named('store_operation_errors_total'), help: 'Store operations that failed (threw or rejected), by operation.', labelNames: ['operation'] as const, registers })
  const httpDuration = new Histogram({ name: named('http_request_duration_seconds'), help: 'Requests to the provider\'s routes, by method, route pattern and status code.', labelNames: ['method', 'route', 'status_code'] as const, buckets: httpBuckets, registers })

  return {
    registry,
    route: options.route,
    instrumentStore: (store) => instrumentStore(store, storeDuration, storeErrors),
    listen (events) {
      events.on('token.issued', (event) => { tokensIssued.inc({ grant_type: event.grantType, client: client(event.clientId) }) })
      events.on('login.success', (event) => { logins.inc({ result: 'success', client: client(event.clientId) }) })
      events.on('login.failure', (event) => { logins.inc({ result: 'failure', client: client(event.clientId) }) })
      events.on('login.locked', (event) => { logins.inc({ result: 'locked', client: client(event.clientId) }) })
      events.on('refresh_token.retried', (event) => { graceHits.inc({ client: client(event.clientId) }) })
      events.on('refresh_token.reused', (event) => { refreshReuse.inc({ client: client(event.clientId) }) })
      events.on('code.replayed', (event) => { codeReplays.inc({ client: client(event.clientId) }) })
      events.on('backchannel_logout.delivered', (event) => { backchannel.inc({ result: 'success', client: client(event.clientId) }) })
      events.on('backchannel_logout.failed', (event) => { backchannel.inc({ result: 'failure', client: client(event.clientId) }) })
      events.on('client_metadata.fetched', (event) => { clientMetadata.inc({ outcome: event.outcome }) })
      events.on('jwks_uri.fetched', (event) => { jwksUri.inc({ outcome: event.outcome }) })
      events.on('client_auth.failure', (event) => { clientAuthFailures.inc({ endpoint: event.endpoint }) })
      events.on('device.requested', (event) => { devices.inc({ outcome: 'requested', client: client(event.clientId) }) })
      events.on('device.approved', (event) => { devices.inc({ outcome: 'approved', client: client(event.clientId) }) })
      events.on('device.denied', (event) => { devices.inc({ outcome: 'denied', client: client(event.clientId) }) })
      events.on('device.expired', (event) => { devices.inc({ outcome: 'expired', client: client(event.clientId) }) })
      events.on('device.user_code_failure', () => { userCodeFailures.inc() })
    },
    onResponse (request, reply, done) {
      // The route pattern; a request that matched no route is one series, whatever its URL.
      const route = request.routeOptions.url ?? 'unmatched'
      httpDuration.observe({ method: request.method, route, status_code: reply.statusCode }, reply.elapsedTime / 1000)
      done()
    },
    close () {
      if (options.registry === undefined) return
      for (const name of names) registry.removeSingleMetric(name)
    },
  }
}
