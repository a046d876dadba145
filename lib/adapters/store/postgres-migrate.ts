/**
 * The PostgreSQL store's migrator: the plain SQL files of `migrations/`, applied in order, each
 * in its own transaction, each recorded in `<schema>.schema_migrations` (one row per version).
 *
 * Several provider instances may start together against an empty database: each migration's
 * transaction first takes a transaction-level advisory lock on the schema's name, then checks
 * whether the version is recorded, so exactly one instance applies it and the others find it
 * done. Transaction-level locks (`pg_advisory_xact_lock`) are released by COMMIT or ROLLBACK
 * and work through transaction-pooling proxies (PgBouncer), unlike session locks.
 */
import { readdir, readFile } from 'node:fs/promises'
import { quoteIdentifier } from './postgres-sql.js'
import type { PostgresPool, PostgresPoolClient } from './postgres-pool.js'

/** One shipped migration: `NNN-name.sql`, version NNN. */
export interface PostgresMigration {
  version: number
  name: string
  /** The SQL, written against the current `search_path` (set it to the store's schema). */
  sql: string
}

const migrationsDir = new URL('./migrations/', import.meta.url)

/** The shipped migrations, lowest version first. */
export async function loadMigrations (): Promise<PostgresMigration[]> {
  const files = (await readdir(migrationsDir)).filter((file) => /^\d+-[\w-]+\.sql$/.test(file)).sort()
  return await Promise.all(files.map(async (file) => ({
    version: Number.parseInt(file, 10),
    name: file.replace(/\.sql$/, ''),
    sql: await readFile(new URL(file, migrationsDir), 'utf8'),
  })))
}

/** SQLSTATEs of "this schema or table does not exist yet": nothing applied. */
const undefinedObject = new Set(['3F000', '42P01'])

/**
 * Applies every migration `schema` lacks. Resolves the versions applied by this call (empty
 * when another instance, or an earlier start, applied them).
 */
export async function migrateSchema (pool: PostgresPool, schema: string): Promise<number[]> {
  const s = quoteIdentifier(schema)
  const migrations = await loadMigrations()
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    const applied = await appliedVersions(client, s)
    const done: number[] = []
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue
      if (await applyOnce(client, schema, s, migration)) done.push(migration.version)
    }
    return done
  } catch (error) {
    broken = error as Error
    throw error
  } finally {
    // A connection that failed mid-transaction is not handed back to the host's pool.
    client.release(broken)
  }
}

async function appliedVersions (client: PostgresPoolClient, s: string): Promise<Set<number>> {
  try {
    const { rows } = await client.query(`SELECT version FROM ${s}.schema_migrations`)
    return new Set(rows.map((row) => Number(row.version)))
  } catch (error) {
    if (undefinedObject.has((error as { code?: string }).code ?? '')) return new Set()
    throw error
  }
}

/** One migration, one transaction, under the schema's advisory lock. False if already applied. */
async function applyOnce (client: PostgresPoolClient, schema: string, s: string, migration: PostgresMigration): Promise<boolean> {
  await client.query('BEGIN')
  try {
    // A migration may build indexes on large tables: the host's statement_timeout must not cut it.
    await client.query('SET LOCAL statement_timeout = 0')
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`fastify-oidc-provider:${schema}`])
    // Read through a query (this statement's snapshot sees what the lock holder before us
    // committed), not `IF NOT EXISTS`, whose catalog lookup may not see it yet.
    const { rows: [found] } = await client.query(`SELECT
      EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS schema,
      EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'schema_migrations') AS table`, [schema])
    if (found?.schema !== true) await client.query(`CREATE SCHEMA ${s}`)
    if (found?.table !== true) {
      await client.query(`CREATE TABLE ${s}.schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`)
    }
    const { rowCount } = await client.query(`SELECT 1 FROM ${s}.schema_migrations WHERE version = $1`, [migration.version])
    if (rowCount !== 0) {
      await client.query('COMMIT')
      return false
    }
    await client.query(`SET LOCAL search_path TO ${s}`)
    await client.query(migration.sql)
    await client.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name])
    await client.query('COMMIT')
    return true
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw new Error(`PostgresStore: migration ${migration.name} failed in schema ${s}: ${(error as Error).message}`, { cause: error })
  }
}
