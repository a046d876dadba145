/**
 * The example server's PostgreSQL store: STORE=postgres with DATABASE_URL (and DATABASE_SCHEMA,
 * default `oidc`). The store makes its own pool (loading `pg` only then) and applies its
 * migrations when the provider registers, so a fresh database works at the first start; several
 * example servers on the same database and schema behave as one provider.
 */
import type { FastifyBaseLogger } from 'fastify'
import { PostgresStore, type PasskeyStore, type Store } from '../lib/index.js'
import type { CommonEnv } from './env.js'

export function createPostgresStore (config: CommonEnv, log: FastifyBaseLogger): { store: Store, passkeys: PasskeyStore, close: () => Promise<void> } {
  const store = new PostgresStore({
    connectionString: config.databaseUrl ?? '',
    ...(config.databaseSchema === undefined ? {} : { schema: config.databaseSchema }),
    migrate: true,
    // A statement past 1.5 s is cancelled by the server; a database that does not answer at all
    // costs a request 2 s (503), like the Redis example's bounds.
    statementTimeoutMs: 1500,
    operationTimeoutMs: 2000,
    poolConfig: { max: 10 },
    onError: (err) => { log.warn({ err }, 'postgres store') },
  })
  // Passkeys in the same schema and pool (migration 003).
  return { store, passkeys: store.passkeyStore(), close: async () => { await store.close() } }
}
