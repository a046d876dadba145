/**
 * The example server's Redis store: `REDIS_URL` → one Redis, `REDIS_CLUSTER_NODES`
 * (comma-separated host:port) → a Redis Cluster. Several example servers pointed at the same
 * Redis (and started with the same SECRET_KEY and keys folder) behave as one provider.
 */
import type { FastifyBaseLogger } from 'fastify'
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'
import { RedisPasskeyStore, RedisStore, type PasskeyStore, type Store } from '../lib/index.js'
import { envVar, parseHostPortList, type ExampleEnv } from './env.js'

/**
 * Reconnect forever, backing off 100 ms, 200 ms, 400 ms ... capped at 2 s: an outage of any
 * length ends by itself once Redis is back (no restart), and a dead Redis costs one connection
 * attempt every 2 s, not a busy loop. Never returns null: null would stop reconnecting for good.
 */
export function reconnectDelay (attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt - 1, 5), 2000)
}

/**
 * The ioredis options that make an outage bounded and recoverable. Requests never wait for
 * Redis longer than these bounds; RedisStore's own `operationTimeoutMs` (2 s) caps each store
 * operation on top of them, whatever the options.
 */
export const redisOptions = {
  // A connection attempt to an unreachable host (SYN dropped, no RST) is abandoned after 2 s.
  connectTimeout: 2000,
  // A command without a reply after 1 s (Redis frozen, network partition with the socket still
  // open) fails instead of waiting for TCP to notice, hours later.
  commandTimeout: 1000,
  // While disconnected, commands fail at once instead of queueing: a request answers 503 now,
  // and no queued consume of a code or refresh token runs minutes later, after the client has
  // already been told to retry. (The same holds for the few milliseconds before the first
  // connection is ready: a request that early answers 503 rather than waiting.)
  enableOfflineQueue: false,
  // A command in flight when the connection drops is retried on one reconnect, then fails.
  maxRetriesPerRequest: 1,
  retryStrategy: reconnectDelay,
} satisfies RedisOptions

/** The Cluster equivalents (the per-node retry strategy and offline queue are Cluster options). */
export const clusterOptions = {
  clusterRetryStrategy: reconnectDelay,
  enableOfflineQueue: false,
  redisOptions: {
    connectTimeout: redisOptions.connectTimeout,
    commandTimeout: redisOptions.commandTimeout,
    maxRetriesPerRequest: redisOptions.maxRetriesPerRequest,
  },
} satisfies ClusterOptions

/** Parses `host:port,host:port` (REDIS_CLUSTER_NODES). */
export function parseClusterNodes (value: string): Array<{ host: string, port: number }> {
  return parseHostPortList({ REDIS_CLUSTER_NODES: value }, 'REDIS_CLUSTER_NODES') ?? []
}

/**
 * Logs a connection problem once per outage (not once per reconnect attempt every 2 s), and
 * the recovery when the client is ready again.
 */
function logOutages (client: Redis | Cluster, log: FastifyBaseLogger, what: string): void {
  let down = false
  client.on('error', (error: Error) => {
    if (down) return
    down = true
    log.error({ err: error }, `${what}: connection lost; store operations answer 503 until it is back`)
  })
  client.on('ready', () => {
    if (!down) return
    down = false
    log.info(`${what}: connection restored`)
  })
}

/** Builds the Redis store (and the passkey store on the same connection) from REDIS_URL / REDIS_CLUSTER_NODES (the cluster wins when both are set). */
export function createRedisStore (env: ExampleEnv, log: FastifyBaseLogger): { store: Store, passkeys: PasskeyStore, close: () => Promise<void> } {
  // Empty means unset (examples/env.ts); a malformed value is an EnvError naming the variable.
  const nodes = parseHostPortList(env, 'REDIS_CLUSTER_NODES')
  const url = envVar.url(env, 'REDIS_URL', ['redis:', 'rediss:'], 'a redis:// or rediss:// URL, such as redis://127.0.0.1:6379')
  const client: Redis | Cluster = nodes !== undefined
    ? new Cluster(nodes, clusterOptions)
    : new Redis(url ?? 'redis://127.0.0.1:6379', redisOptions)
  logOutages(client, log, nodes !== undefined ? 'redis cluster' : 'redis')
  const store = new RedisStore({ client })
  return {
    store,
    passkeys: new RedisPasskeyStore({ client }),
    // The example owns this connection, so it quits it (RedisStore.close() never does).
    close: async () => {
      await store.close()
      await client.quit().catch(() => { client.disconnect() })
    },
  }
}
