import type { FastifyBaseLogger } from 'fastify'
import type { Store } from '../lib/index.js'
import type { ExampleEnv } from './server.js'

/** Builds the Redis store from REDIS_URL / REDIS_CLUSTER_NODES (issue 6 fills this in). */
export function createRedisStore (_env: ExampleEnv, _log: FastifyBaseLogger): { store: Store, close: () => Promise<void> } {
  throw new Error('REDIS_URL is set but the Redis store is not available yet')
}
