/**
 * PostgresStore: the store contract (unchanged, as for memory and Redis) on a schema of its
 * own, and what is PostgreSQL's alone: migrations (once, concurrently), schema names quoted,
 * the sweeper, timeouts and an unreachable database as StoreUnavailableError, and `pg` loaded
 * only when used.
 */
import t from 'tap'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import Fastify from 'fastify'
import { PostgresStore, type PostgresPool, type PostgresPoolClient } from '../../../lib/adapters/store/postgres.js'
import { oidcProvider } from '../../../lib/index.js'
import { StoreUnavailableError } from '../../../lib/contracts/errors.js'
import { nowSeconds, randomToken, sha256 } from '../../../lib/tokens/crypto.js'
import { storeContract } from './contract.js'
import { dropSchemaAtTeardown, postgresStoreFactory, requirePostgres, testSchema } from '../../helpers/postgres.js'
import { freePort } from '../../helpers/server.js'
import { fromRoot } from '../../helpers/paths.js'
import { testKeys } from '../../helpers/keys.js'

const pool = await requirePostgres(t)
const peerPool = await requirePostgres(t)

if (pool !== undefined && peerPool !== undefined) {
  await storeContract(t, 'PostgresStore', await postgresStoreFactory(t, pool, peerPool))

  t.test('migrations: instances starting together against an empty schema migrate once', async (t) => {
    const schema = testSchema()
    dropSchemaAtTeardown(t, pool, schema)
    const stores = [new PostgresStore({ pool, schema, sweepIntervalMs: 0 }), new PostgresStore({ pool: peerPool, schema, sweepIntervalMs: 0 }),
      new PostgresStore({ pool, schema, sweepIntervalMs: 0 })]
    const applied = await Promise.all(stores.map(async (store) => await store.migrate()))
    const versions = (await PostgresStore.migrations()).map((migration) => migration.version)
    t.same(applied.flat().sort(), versions, 'every version applied by exactly one instance, without an error')
    const { rows } = await pool.query<{ version: number, n: number }>(`SELECT version, count(*)::int AS n FROM "${schema}".schema_migrations GROUP BY version ORDER BY version`)
    t.same(rows, versions.map((version) => ({ version, n: 1 })), 'one row per version')
    t.same(await stores[0]!.migrate(), [], 'a later start has nothing to apply')
    await stores[1]!.saveClient(client('rp'))
    t.equal((await stores[2]!.getClient('rp'))?.client_id, 'rp', 'the migrated schema serves')
  })

  t.test('migration 004 finds its index when a host built it beforehand (CONCURRENTLY, on a large table)', async (t) => {
    const schema = testSchema()
    dropSchemaAtTeardown(t, pool, schema)
    const store = new PostgresStore({ pool, schema, sweepIntervalMs: 0 })
    await store.migrate()
    // As a host would before upgrading: the index exists, version 4 is not recorded yet.
    await pool.query(`DROP INDEX "${schema}".refresh_families_client_id`)
    await pool.query(`DELETE FROM "${schema}".schema_migrations WHERE version = 4`)
    await pool.query(`CREATE INDEX CONCURRENTLY refresh_families_client_id ON "${schema}".refresh_families (client_id) WHERE state = 'a'`)
    t.same(await store.migrate(), [4], 'version 4 applies without an error and is recorded')
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = $1 AND indexname = $2', [schema, 'refresh_families_client_id'])
    t.equal(rows[0].n, 1, 'one index of that name')
  })

  t.test('a schema name with quotes and spaces is quoted, never spliced', async (t) => {
    const schema = `${testSchema()} "x"; DROP TABLE y; --`
    dropSchemaAtTeardown(t, pool, schema.replace(/"/g, '""'))
    const store = new PostgresStore({ pool, schema, sweepIntervalMs: 0, migrate: true })
    await store.init()
    await store.saveClient(client('rp'))
    t.equal((await store.getClient('rp'))?.client_id, 'rp')
    const { rows } = await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
    t.equal(rows.length, 1, 'the schema has exactly the given name')
    t.throws(() => new PostgresStore({ pool, schema: 'x'.repeat(64) }), /schema/, 'a name PostgreSQL would cut is refused')
    t.throws(() => new PostgresStore({ pool, connectionString: 'postgres://x' }), /exactly one/)
  })

  t.test('the sweeper deletes expired rows in bounded batches and leaves live ones', async (t) => {
    const factory = await postgresStoreFactory(t, pool, peerPool, { sweepBatchSize: 7 })
    const { store: anyStore, cleanup } = await factory()
    t.teardown(cleanup)
    const store = anyStore as PostgresStore
    const soon = nowSeconds() + 1
    const later = nowSeconds() + 600
    await store.saveClient(client('kept'))
    for (let i = 0; i < 20; i++) {
      const grantId = randomToken(8)
      await store.saveGrant({ grantId, accountId: `u${i}`, clientId: 'kept', scope: 'openid', createdAt: nowSeconds(), expiresAt: soon })
      await store.saveCode(sha256(randomToken()), { clientId: 'kept', grantId, accountId: `u${i}`, redirectUri: 'https://rp.example/cb', scope: 'openid', authTime: nowSeconds(), expiresAt: soon })
      await store.markUsed(randomToken(8), soon)
    }
    await store.saveSession({ sessionId: 'live', accountId: 'u', authTime: nowSeconds(), expiresAt: later })
    await new Promise((resolve) => setTimeout(resolve, soon * 1000 - Date.now() + 100))
    t.equal(await store.sweep(), 60, '20 grants (their pair pointers cascade), 20 codes, 20 one-time values')
    t.equal(await store.sweep(), 0, 'nothing left to delete')
    const schema = factory.schema
    const { rows } = await pool.query<{ n: number }>(`SELECT (SELECT count(*) FROM "${schema}".grant_pairs)::int AS n`)
    t.equal(rows[0]?.n, 0, 'no pointer outlives its grant')
    t.ok(await store.getSession('live'), 'a live session stays')
    t.ok(await store.getClient('kept'), 'clients stay')
  })

  t.test('counters: one statement per key count keeps one plan; many keys, no keys and repeated keys answer as getCounter', async (t) => {
    const factory = await postgresStoreFactory(t, pool, peerPool)
    const { store: anyStore, cleanup } = await factory()
    t.teardown(cleanup)
    const store = anyStore as PostgresStore
    await store.saveClient(client('rp'))
    const live = await store.incrementCounter('live', 600)
    const counter = { count: 1, resetAt: live.resetAt }
    t.same(await store.getCounters([]), [], 'no keys: no counters')
    t.same(await store.getClientWithCounters('rp', []), { client: client('rp'), counters: [] }, 'no keys: the client alone')
    t.same(await store.getCounters(['live', 'none', 'live']), [counter, undefined, counter], 'a key given twice answers twice')
    const many = Array.from({ length: 20 }, (_, index) => index % 7 === 0 ? 'live' : `none${index}`)
    const expected = many.map((key) => key === 'live' ? counter : undefined)
    t.same(await store.getCounters(many), expected, 'more keys than the per-count statements take: the array statement')
    t.same(await store.getClientWithCounters('rp', many), { client: client('rp'), counters: expected })
    t.same(await store.getClientWithCounters('nobody', many), { client: undefined, counters: expected })
    // With a counters table of some size, analyzed (a server that has seen failures), the
    // array form was planned again at every call. A host pool of one connection, so the plan
    // statistics below are this connection's.
    await pool.query(`INSERT INTO "${factory.schema}".counters (key, count, expires_at)
      SELECT 'other' || g, 1, now() + interval '1 hour' FROM generate_series(1, 2000) g`)
    await pool.query(`ANALYZE "${factory.schema}".counters`)
    const single = await requirePostgres(t, { max: 1 })
    if (single === undefined) return
    const one = new PostgresStore({ pool: single, schema: factory.schema, sweepIntervalMs: 0 })
    t.teardown(() => one.close())
    for (let i = 0; i < 12; i++) await one.getClientWithCounters('rp', ['live', `none${i}`])
    const { rows } = await single.query<{ generic: number, custom: number }>(
      'SELECT generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements WHERE name LIKE \'%getClientWithCounters2\'')
    t.ok(rows.length === 1 && rows[0]!.generic >= 7 && rows[0]!.custom <= 5,
      `PostgreSQL settles on the generic plan after its first custom ones, instead of planning each call (${JSON.stringify(rows)})`)
  })

  t.test('a statement that waits past statementTimeoutMs throws StoreUnavailableError; then the store works', async (t) => {
    // A host pool with statement_timeout set, as PostgresStoreOptions asks.
    const timedPool = await requirePostgres(t, { statement_timeout: 300 })
    if (timedPool === undefined) return
    const factory = await postgresStoreFactory(t, timedPool, peerPool, { statementTimeoutMs: 300, operationTimeoutMs: 5000 })
    const { store, cleanup } = await factory()
    t.teardown(cleanup)
    const hash = sha256(randomToken())
    await store.saveCode(hash, { clientId: 'c', grantId: 'g', accountId: 'a', redirectUri: 'https://rp.example/cb', scope: 'openid', authTime: nowSeconds(), expiresAt: nowSeconds() + 60 })
    const schema = factory.schema
    // Another transaction holds the code's row: the consume waits for its lock.
    const locker = await peerPool.connect()
    await locker.query('BEGIN')
    await locker.query(`SELECT 1 FROM "${schema}".codes WHERE code_hash = $1 FOR UPDATE`, [hash])
    const started = Date.now()
    await t.rejects(store.consumeCode(hash), StoreUnavailableError, 'the consume gives up')
    const elapsed = Date.now() - started
    t.ok(elapsed < 4000, `cancelled by the server, before the provider-side bound (${elapsed} ms)`)
    await locker.query('ROLLBACK')
    locker.release()
    t.equal((await store.consumeCode(hash)).status, 'consumed', 'the code was not consumed by the abandoned attempt, and the store works again')
  })

  t.test('an unreachable database: StoreUnavailableError within the bound, ping included; migrate: true fails register', async (t) => {
    const store = new PostgresStore({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/test`, statementTimeoutMs: 500, sweepIntervalMs: 0, migrate: true })
    t.teardown(() => store.close())
    await t.rejects(store.ping(), StoreUnavailableError)
    await t.rejects(store.getClient('rp'), StoreUnavailableError)
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(oidcProvider, { issuer: 'http://localhost:3000', store, keys: testKeys() }); await app.ready() }, /ECONNREFUSED|connect/,
      'register awaits the store\'s init(): a schema that cannot be migrated stops the start')
  })
}

t.test('the operation bound without a database: a late connection is handed back unused, an in-flight one closed, a throwing pool reported', async (t) => {
  const released: Array<Error | boolean | undefined> = []
  const fakeClient = (query: () => Promise<{ rows: [], rowCount: number }>): PostgresPoolClient => ({
    query: query as PostgresPoolClient['query'],
    release: (error?: Error | boolean) => { released.push(error) },
  })
  const fakePool = (connect: () => Promise<PostgresPoolClient>): PostgresPool => ({ connect, end: async () => {} })
  const after = async <T>(ms: number, value: T): Promise<T> => await new Promise((resolve) => setTimeout(() => { resolve(value) }, ms))

  const late = new PostgresStore({ pool: fakePool(async () => await after(150, fakeClient(async () => ({ rows: [], rowCount: 0 })))), operationTimeoutMs: 50, sweepIntervalMs: 0 })
  await t.rejects(late.ping(), StoreUnavailableError, 'no connection within the bound')
  await after(200, undefined)
  t.same(released, [undefined], 'the connection that came late goes back to the pool, unused')

  released.length = 0
  const stuck = new PostgresStore({ pool: fakePool(async () => fakeClient(async () => await after(150, { rows: [], rowCount: 0 }))), operationTimeoutMs: 50, sweepIntervalMs: 0 })
  await t.rejects(stuck.ping(), StoreUnavailableError, 'a statement past the bound')
  await after(200, undefined)
  t.equal(released.length, 1, 'released once, although its answer came later')
  t.type(released[0], StoreUnavailableError, 'closed (released with the error), so the statement cannot run late')

  released.length = 0
  const throwing = new PostgresStore({ pool: fakePool(async () => fakeClient(() => { throw new TypeError('bad query') })), sweepIntervalMs: 0 })
  const error = await throwing.ping().catch((error: unknown) => error)
  t.type(error, StoreUnavailableError, 'a client that throws at once')
  t.type((error as Error).cause, TypeError, 'with the cause')
  t.equal(released.length, 1)
  t.type(released[0], TypeError, 'the connection is closed: an error that is not the server\'s answer leaves it in doubt')

  const broken = new PostgresStore({ pool: fakePool(() => { throw new Error('pool ended') }), sweepIntervalMs: 0 })
  await t.rejects(broken.ping(), StoreUnavailableError, 'a pool that throws at once')
})

t.test('pg is loaded only when used: no module of lib/ imports it eagerly', async (t) => {
  const files = await listTs(fromRoot('lib'))
  const eager: string[] = []
  for (const file of files) {
    const source = await readFile(file, 'utf8')
    if (/^import (?!type )[^\n]*from 'pg'/m.test(source) || /^export [^\n]*from 'pg'/m.test(source)) eager.push(file)
  }
  t.same(eager, [], 'only `import type` and a dynamic import()')
})

async function listTs (dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  const nested = await Promise.all(entries.map(async (entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return await listTs(path)
    return entry.name.endsWith('.ts') ? [path] : []
  }))
  return nested.flat()
}

function client (clientId: string) {
  return {
    client_id: clientId,
    token_endpoint_auth_method: 'none' as const,
    redirect_uris: ['https://rp.example/cb'],
    grant_types: ['authorization_code' as const],
    response_types: ['code'],
    scope: 'openid',
    application_type: 'web' as const,
    client_id_issued_at: nowSeconds(),
  }
}
