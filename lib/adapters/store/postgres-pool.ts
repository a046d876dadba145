/**
 * The PostgreSQL store's view of node-postgres: the few members of a `Pool` it uses (declared
 * here, so the package's types do not need `@types/pg` where PostgreSQL is not used), the
 * store's own pool (the only place `pg` is loaded, on demand), and which errors end a connection.
 */

/**
 * What the store uses of a node-postgres `Pool` (a `pg.Pool` is one). Declared here so the
 * package's types do not require `@types/pg` where PostgreSQL is not used.
 */
export interface PostgresPool {
  connect (): Promise<PostgresPoolClient>
  end (): Promise<void>
}

/** What the store uses of a pooled node-postgres client. */
export interface PostgresPoolClient {
  query (config: { name?: string, text: string, values?: unknown[] }): Promise<{ rows: Array<Record<string, unknown>>, rowCount: number | null }>
  query (text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>>, rowCount: number | null }>
  /** Returns the client to the pool; with an error (or true), closes it instead. */
  release (error?: Error | boolean): void
}

/** The store's own pool, `pg` imported only now (an optional peer dependency). */
export async function createPool (connectionString: string, config: Record<string, unknown>, timeoutMs: number, onError: (error: Error) => void): Promise<PostgresPool> {
  let Pg: typeof import('pg').Pool
  try {
    Pg = (await import('pg')).default.Pool
  } catch (error) {
    throw new Error('PostgresStore needs the "pg" package: npm install pg', { cause: error })
  }
  const pool = new Pg({
    application_name: 'fastify-oidc-provider',
    statement_timeout: timeoutMs,
    connectionTimeoutMillis: timeoutMs,
    ...config,
    connectionString,
  })
  // An idle connection that breaks (the server restarted) is dropped by the pool; without a
  // listener its 'error' event would crash the process.
  pool.on('error', onError)
  return pool
}

/**
 * Whether the connection is unusable after `error`: anything that is not an answer of the
 * server about the statement (a socket error, a timeout), or a server answer saying the
 * connection is going away (SQLSTATE classes 08 and 57P).
 */
export function connectionLost (error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true
  return code.startsWith('08') || code.startsWith('57P')
}
