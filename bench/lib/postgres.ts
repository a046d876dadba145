/**
 * PostgreSQL for the bench: the database at DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test), a schema of the run's own (dropped at the end), the
 * CPU time of the provider's backend processes (found by their application_name, which the
 * bench gives the example's connections in DATABASE_URL). Statements are counted by the relay
 * in ./pg-proxy.ts.
 */
import { readFile } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import pg from 'pg'

export const benchDatabaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface BenchPostgres {
  schema: string
  /** The provider's connections carry it, so their backends can be found. */
  applicationName: string
  /** CPU milliseconds of every backend process of the provider so far (user + system). */
  backendsCpuMs (): Promise<number>
  drop (): Promise<void>
}

/** A schema for the run, or why PostgreSQL cannot be used. */
export async function benchPostgres (runId: string): Promise<BenchPostgres | { reason: string }> {
  const pool = new pg.Pool({ connectionString: benchDatabaseUrl, max: 1, connectionTimeoutMillis: 2000 })
  pool.on('error', () => {})
  try {
    await pool.query('SELECT 1')
  } catch (error) {
    await pool.end().catch(() => {})
    return { reason: `no PostgreSQL at ${benchDatabaseUrl} (${(error as Error).message})` }
  }
  const tag = runId.replace(/[^a-z0-9]/gi, '_').toLowerCase()
  const schema = `bench_${tag}`
  const applicationName = `fop-bench-${tag}`
  return {
    schema,
    applicationName,
    backendsCpuMs: backendsCpuReader(pool, applicationName),
    async drop () {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {})
      await pool.end().catch(() => {})
    },
  }
}

/**
 * Reads the CPU milliseconds so far of every backend whose connection carries `applicationName`.
 * The backends run on this machine (DATABASE_URL on loopback): /proc has their CPU times. A
 * backend that exits (the pool closes idle connections) keeps its last reading, so the sum never
 * goes down between two readings.
 */
export function backendsCpuReader (admin: pg.Pool, applicationName: string): () => Promise<number> {
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
  const seen = new Map<number, number>()
  return async () => {
    const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [applicationName])
    for (const { pid } of rows) {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
      if (stat === '') continue
      // Fields after the command name (which may hold spaces): utime and stime are 14th and 15th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      seen.set(pid, Number(fields[11] ?? 0) + Number(fields[12] ?? 0))
    }
    let ticks = 0
    for (const value of seen.values()) ticks += value
    return ticks * 1000 / ticksPerSecond
  }
}
