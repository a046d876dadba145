/**
 * PostgreSQL for tests: the shared server at DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test), each test file in schemas of its own (random
 * names), dropped at teardown, so files and parallel sessions never see each other's rows.
 *
 * Skip rule (as for Redis): without a reachable database a test is skipped with a message
 * locally, and FAILS under `CI=true`, where .ci/run starts PostgreSQL.
 */
import pg from 'pg'
import type { Test } from 'tap'
import { PostgresStore, type PostgresStoreOptions } from '../../lib/adapters/store/postgres.js'
import { randomToken } from '../../lib/tokens/crypto.js'
import type { StoreFactory } from '../adapters/store/contract.js'

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const inCI = process.env.CI === 'true'

/** A fresh schema name (lower case, so it needs no quoting in psql either). */
export function testSchema (): string {
  return `oidc_test_${randomToken(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`
}

/** A pool on DATABASE_URL, ended at teardown; undefined (after a skip or, in CI, a failure) when unreachable. */
export async function requirePostgres (t: Test, config: pg.PoolConfig = {}): Promise<pg.Pool | undefined> {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2000, ...config })
  pool.on('error', () => {})
  try {
    await pool.query('SELECT 1')
  } catch (error) {
    await pool.end().catch(() => {})
    const reason = `PostgreSQL is unreachable at ${DATABASE_URL}: ${(error as Error).message}`
    if (inCI) t.fail(`${reason} — CI=true: PostgreSQL tests must run, never skip`)
    else t.pass('needs PostgreSQL', { skip: `${reason} (start PostgreSQL or set DATABASE_URL to run it)` })
    return undefined
  }
  t.teardown(async () => { await pool.end().catch(() => {}) })
  return pool
}

/** Drops `schema` (and everything in it) at teardown. */
export function dropSchemaAtTeardown (t: Test, pool: pg.Pool, schema: string): void {
  t.teardown(async () => { await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`) })
}

/**
 * Stores over one migrated schema of their own (dropped at teardown): the store on `pool`, its
 * peer on `peerPool` (other connections: another instance's view).
 */
export async function postgresStoreFactory (t: Test, pool: pg.Pool, peerPool: pg.Pool, options: Partial<PostgresStoreOptions> = {}): Promise<StoreFactory & { schema: string }> {
  const schema = testSchema()
  dropSchemaAtTeardown(t, pool, schema)
  await new PostgresStore({ pool, schema, sweepIntervalMs: 0 }).migrate()
  const factory: StoreFactory = async () => {
    // Each contract case starts with no clients, as on a fresh memory or Redis store (listClients
    // pages every client of the store); the other tables are keyed by random ids per case.
    await pool.query(`DELETE FROM "${schema}".clients`)
    const store = new PostgresStore({ pool, schema, sweepIntervalMs: 0, ...options })
    const peer = new PostgresStore({ pool: peerPool, schema, sweepIntervalMs: 0, ...options })
    return { store, peer, cleanup: async () => { await store.close(); await peer.close() } }
  }
  return Object.assign(factory, { schema })
}

/**
 * A PostgresStore on a migrated schema of its own (dropped at teardown, the store closed before
 * it), for a test that needs one store and nothing else of the database; undefined when
 * PostgreSQL is unreachable (as `requirePostgres`: skipped locally, failed under CI=true).
 */
export async function migratedPostgresStore (t: Test): Promise<PostgresStore | undefined> {
  const pool = await requirePostgres(t)
  if (pool === undefined) return undefined
  const schema = testSchema()
  dropSchemaAtTeardown(t, pool, schema)
  const store = new PostgresStore({ pool, schema, sweepIntervalMs: 0 })
  await store.migrate()
  t.teardown(async () => { await store.close() })
  return store
}
