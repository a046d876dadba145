/**
 * Bench-only: the CPU one PostgreSQL store statement costs, in this process (node-postgres and
 * the store's plumbing) and in the PostgreSQL backends that run it (read from /proc, the server
 * being on this machine), per variant, interleaved over several rounds, medians printed.
 *
 *   npx tsx bench/pg-statement-cost.ts            # every variant
 *   PG_COST_ROUNDS=5 PG_COST_CONCURRENCY=8 PG_COST_ONLY=store-ping,raw-named npx tsx bench/pg-statement-cost.ts
 *   PG_COST_COUNTERS=5000 PG_COST_ONLY=store-client,raw-named npx tsx bench/pg-statement-cost.ts
 *
 * Variants (PG_COST_ONLY: name prefixes): the store's methods on the SSO flow's and
 * client_credentials' paths (`store-…`), and statements sent by hand (`raw-…`: the pg pool,
 * named or unnamed; `unix-…`: over the Unix socket; `pipelined-…`: node-postgres' pipeline mode
 * on one connection; `async-commit-…`: synchronous_commit off), so that the store's plumbing,
 * the protocol, planning and the commit can be told apart. PG_COST_COUNTERS adds that many
 * other counters (analyzed), as a server that has seen failures holds. The first round of each
 * variant warms up; read the medians. DATABASE_URL as the bench's.
 */
import pg from 'pg'
import { PostgresStore } from '../lib/adapters/store/postgres.js'
import { counterStatements, quoteIdentifier, statements } from '../lib/adapters/store/postgres-sql.js'
import type { ClientRecord, GrantRecord, SessionRecord } from '../lib/contracts/store.js'
import { backendsCpuReader, benchDatabaseUrl } from './lib/postgres.js'

const n = Number(process.env.PG_COST_N ?? 2000)
const rounds = Number(process.env.PG_COST_ROUNDS ?? 5)
const concurrency = Number(process.env.PG_COST_CONCURRENCY ?? 4)
const only = process.env.PG_COST_ONLY?.split(',')
const schema = `bench_cost_${process.pid}`
const applicationName = `fop-cost-${process.pid}`

const admin = new pg.Pool({ connectionString: benchDatabaseUrl, max: 1 })
admin.on('error', () => {})
const url = new URL(benchDatabaseUrl)
url.searchParams.set('application_name', applicationName)
const store = new PostgresStore({ connectionString: url.href, schema, sweepIntervalMs: 0, poolConfig: { max: 10 } })
const raw = new pg.Pool({ connectionString: url.href, max: 10, statement_timeout: 2000 })
raw.on('error', () => {})
// The same, without waiting for the WAL flush at commit: how much of a write is the commit.
const asyncCommit = new pg.Pool({ connectionString: url.href, max: 10, statement_timeout: 2000, options: '-c synchronous_commit=off' })
asyncCommit.on('error', () => {})
const sql = statements(quoteIdentifier(schema))
// The same server over its Unix socket instead of loopback TCP (a connection-string choice).
const unixUrl = new URL(url.href)
unixUrl.hostname = ''
unixUrl.searchParams.set('host', process.env.PG_COST_SOCKET_DIR ?? '/var/run/postgresql')
const unix = new pg.Pool({ connectionString: unixUrl.href, max: 10, statement_timeout: 2000 })
unix.on('error', () => {})
// node-postgres' pipeline mode: one connection, statements sent without waiting for the previous answer.
const pipelined = new pg.Client({ connectionString: url.href, statement_timeout: 2000, pipeline: true } as pg.ClientConfig)
pipelined.on('error', () => {})

const backendsCpuMs = backendsCpuReader(admin, applicationName)

const now = Math.floor(Date.now() / 1000)
const client = {
  client_id: 'bench-client',
  client_secret_hash: 'x'.repeat(43),
  redirect_uris: ['https://rp.example/cb'],
  grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  response_types: ['code'],
  scope: 'openid profile email',
  token_endpoint_auth_method: 'client_secret_basic',
} as unknown as ClientRecord
const grant = { grantId: 'bench-grant', accountId: 'alice', clientId: 'bench-client', scope: 'openid profile email', claims: [], createdAt: now, expiresAt: now + 86400 } as unknown as GrantRecord
const session = { sessionId: 'bench-session', accountId: 'alice', authTime: now, amr: ['pwd'], createdAt: now, expiresAt: now + 86400 } as unknown as SessionRecord
const counterKeys = ['lockout:client:bench-client', 'lockout:ip:127.0.0.1']

let sequence = 0
const fresh = (): string => `${process.pid}-${sequence++}-${'h'.repeat(32)}`
const code = { grantId: 'bench-grant', clientId: 'bench-client', accountId: 'alice', redirectUri: 'https://rp.example/cb', scope: 'openid profile email', nonce: 'n', codeChallenge: 'c'.repeat(43), codeChallengeMethod: 'S256', authTime: now, sessionId: 'bench-session', expiresAt: now + 60 } as never
const saved: string[] = []
const variants: Record<string, () => Promise<unknown>> = {
  'store-saveCodeOnce (write)': async () => { const hash = fresh(); saved.push(hash); return await store.saveCodeOnce(hash, code, `nonce:${hash}`, now + 60) },
  'store-consumeCode (write)': async () => await store.consumeCode(saved.pop() ?? 'none'),
  'store-startRefreshFamily (write)': async () => await store.startRefreshFamily({ grantId: 'bench-grant', familyId: fresh(), clientId: 'bench-client', scope: 'openid profile email', sessionId: 'bench-session', offline: false, createdAt: now, expiresAt: now + 86400 } as never, { tokenHash: fresh(), issuedAt: now, expiresAt: now + 86400 } as never),
  'raw-named markUsed (write)': async () => await raw.query({ name: 'm', text: sql.markUsed, values: [fresh(), now + 60] }),
  'async-commit markUsed (write)': async () => await asyncCommit.query({ name: 'm', text: sql.markUsed, values: [fresh(), now + 60] }),
  'store-client+counters': async () => await store.getClientWithCounters('bench-client', counterKeys),
  'store-session+grant': async () => await store.getSessionWithGrant('bench-session', 'bench-client'),
  'store-getClient': async () => await store.getClient('bench-client'),
  'store-markUsed (write)': async () => await store.markUsed(`nonce-${sequence++}-${process.pid}`, now + 60),
  'store-ping': async () => { await store.ping() },
  'raw-named array client+counters': async () => await raw.query({ name: 'c', text: sql.getClientWithCounters, values: [counterKeys, 'bench-client'] }),
  'raw-unnamed array client+counters': async () => await raw.query({ text: sql.getClientWithCounters, values: [counterKeys, 'bench-client'] }),
  'raw-named values client+counters': async () => await raw.query({ name: 'cv', text: counterStatements(quoteIdentifier(schema), 2).getClientWithCounters, values: ['bench-client', ...counterKeys] }),
  'raw-named session+grant': async () => await raw.query({ name: 'sg', text: sql.getSessionWithGrant, values: ['bench-session', 'bench-client'] }),
  'unix-named session+grant': async () => await unix.query({ name: 'sg', text: sql.getSessionWithGrant, values: ['bench-session', 'bench-client'] }),
  'pipelined-named session+grant': async () => await pipelined.query({ name: 'sg', text: sql.getSessionWithGrant, values: ['bench-session', 'bench-client'] }),
  'raw-named SELECT 1': async () => await raw.query({ name: 'one', text: 'SELECT 1', values: [] }),
}

async function measure (run: () => Promise<unknown>): Promise<{ providerUs: number, backendUs: number }> {
  for (let i = 0; i < 200; i++) await run()
  const backendBefore = await backendsCpuMs()
  const cpuBefore = process.cpuUsage()
  let left = n
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (left-- > 0) await run()
  }))
  const cpu = process.cpuUsage(cpuBefore)
  const backendAfter = await backendsCpuMs()
  return { providerUs: (cpu.user + cpu.system) / n, backendUs: (backendAfter - backendBefore) * 1000 / n }
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}

async function main (): Promise<void> {
  await store.migrate()
  await pipelined.connect()
  await store.saveClient(client)
  await store.saveGrant(grant)
  await store.saveSession(session)
  await store.incrementCounter(counterKeys[0] ?? '', 600)
  // Other clients' and addresses' failure counters, as a server that has seen failures holds.
  const others = Number(process.env.PG_COST_COUNTERS ?? 0)
  if (others > 0) {
    await admin.query(`INSERT INTO "${schema}".counters (key, count, expires_at) SELECT 'other:' || g, 1, now() + interval '1 hour' FROM generate_series(1, $1::int) g`, [others])
    await admin.query(`ANALYZE "${schema}".counters`)
  }
  // consumeCode needs codes: saveCodeOnce runs first in each round and leaves them.
  const names = Object.keys(variants).filter((name) => only === undefined || only.some((o) => name.startsWith(o)))
  const results = new Map<string, Array<{ providerUs: number, backendUs: number }>>(names.map((name) => [name, []]))
  for (let round = 0; round < rounds; round++) {
    for (const name of names) results.get(name)?.push(await measure(variants[name] as () => Promise<unknown>))
  }
  console.log(`n=${n} per round, ${rounds} rounds, concurrency ${concurrency}, medians in µs CPU per statement`)
  console.log('variant'.padEnd(30), 'provider'.padStart(9), 'backend'.padStart(9), '  provider per round')
  for (const [name, values] of results) {
    console.log(name.padEnd(30), median(values.map((v) => v.providerUs)).toFixed(1).padStart(9), median(values.map((v) => v.backendUs)).toFixed(1).padStart(9),
      '  ' + values.map((v) => v.providerUs.toFixed(0)).join(' '))
  }
}

main()
  .catch((error: unknown) => { console.error(error); process.exitCode = 1 })
  .finally(async () => {
    await store.close()
    await raw.end()
    await asyncCommit.end()
    await unix.end()
    await pipelined.end()
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {})
    await admin.end()
  })
