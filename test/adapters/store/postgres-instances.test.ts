/**
 * Two example servers (STORE=postgres) sharing one PostgreSQL schema, over real HTTP: they
 * migrate once when started together, one code redeemed 20 times across both gives one 200,
 * 20 refreshes of one token give one successor (grace) and the family rules hold across them;
 * a database that stops answering (a TCP proxy holding its traffic, the shared server itself
 * untouched) makes A answer 503 within the bound while B serves, and nothing is lost or done
 * twice once it answers again; a restart of both keeps clients, grants, sessions and tokens.
 */
import t from 'tap'
import { rm } from 'node:fs/promises'
import { exampleKeysDir } from '../../helpers/example-keys.js'
import { HttpBrowser, requestTimeoutMs } from '../../helpers/http-browser.js'
import { basicAuth, type TokenResponse } from '../../helpers/redis-instances.js'
import { startExampleServer } from '../../helpers/example-server.js'
import { obtainCode, postForm, redeemCode, registerWhenReady, waitUntil } from '../../helpers/redis-http.js'
import { freePort } from '../../helpers/server.js'
import { startHoldingProxy } from '../../helpers/tcp-proxy.js'
import { DATABASE_URL, dropSchemaAtTeardown, requirePostgres, testSchema } from '../../helpers/postgres.js'
import { PostgresStore } from '../../../lib/adapters/store/postgres.js'

/** The example's bounds: statement 1.5 s, operation 2 s (examples/postgres.ts); plus slack for a loaded machine. */
const BOUND_MS = 3500

t.test('two example servers on one PostgreSQL schema', async (t) => {
  const pool = await requirePostgres(t)
  if (pool === undefined) return
  const schema = testSchema()
  dropSchemaAtTeardown(t, pool, schema)
  const database = new URL(DATABASE_URL)
  const proxy = await startHoldingProxy(t, { host: database.hostname, port: Number(database.port === '' ? 5432 : database.port) })
  const viaProxy = new URL(DATABASE_URL)
  viaProxy.host = `127.0.0.1:${new URL(proxy.url).port}`
  const keysDir = await exampleKeysDir()
  t.teardown(() => rm(keysDir, { recursive: true, force: true }))
  const [portA, portB] = [await freePort(), await freePort()]
  const A = `http://127.0.0.1:${portA}`
  const B = `http://127.0.0.1:${portB}`
  // One provider seen through two instances: same issuer, keys, cookie secret and schema.
  const common = { STORE: 'postgres', DATABASE_SCHEMA: schema, KEYS_DIR: keysDir, ISSUER: A }
  const envA = { ...common, DATABASE_URL: viaProxy.href, PORT: String(portA) }
  const envB = { ...common, DATABASE_URL, PORT: String(portB) }
  let [a, b] = await Promise.all([startExampleServer(t, envA), startExampleServer(t, envB)])

  const versions = (await PostgresStore.migrations()).map((migration) => migration.version)
  const { rows } = await pool.query<{ version: number }>(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`)
  t.same(rows.map((row) => row.version), versions, 'started together on an empty schema: migrated once, one row per version')

  const client = await registerWhenReady(A)
  const code = await obtainCode(A, client)
  const redemptions = await Promise.all(Array.from({ length: 20 }, async (_, i) => await redeemCode(i % 2 === 0 ? A : B, client, code)))
  t.same(redemptions.map((res) => res.status).sort(), [200, ...Array(19).fill(400)], '20 redemptions across A and B (a client registered on A): one 200')
  const replayed = await redemptions.find((res) => res.status === 200)!.json() as TokenResponse
  const refreshAt = async (base: string, token: string): Promise<Response> =>
    await postForm(`${base}/token`, { grant_type: 'refresh_token', refresh_token: token }, basicAuth(client))
  t.equal((await refreshAt(B, replayed.refresh_token)).status, 400, 'the replays revoked what the winner got (RFC 6749 §4.1.2)')

  const fresh = await redeemCode(B, client, await obtainCode(A, client))
  t.equal(fresh.status, 200, 'a new code, redeemed once')
  const tokens = await fresh.json() as TokenResponse
  const refreshes = await Promise.all(Array.from({ length: 20 }, async (_, i) => await refreshAt(i % 2 === 0 ? A : B, tokens.refresh_token)))
  t.same(refreshes.map((res) => res.status), Array(20).fill(200), '20 refreshes of one token: the winner and 19 retries within the grace window')
  const successors = new Set(await Promise.all(refreshes.map(async (res) => (await res.json() as TokenResponse).refresh_token)))
  t.equal(successors.size, 1, 'all get the one successor')
  const [successor] = [...successors] as [string]
  const third = await refreshAt(B, successor)
  t.equal(third.status, 200, 'the successor rotates on B')
  const reuse = await refreshAt(A, tokens.refresh_token)
  t.equal(reuse.status, 400, 'the first token after its successor was used is reuse')
  t.equal((await refreshAt(B, (await third.json() as TokenResponse).refresh_token)).status, 400, 'and revoked the family, on both instances')

  // The database stops answering A (its traffic held in the network); B keeps its own connections.
  const pending = await obtainCode(A, client)
  proxy.hold()
  const started = Date.now()
  const during = await redeemCode(A, client, pending)
  const elapsed = Date.now() - started
  t.equal(during.status, 503, 'A: 503 while the database does not answer')
  t.match(await during.json(), { error: 'temporarily_unavailable' })
  t.ok(elapsed < BOUND_MS, `within the bound (${elapsed} ms)`)
  const readyA = await fetch(`${A}/health/ready`, { signal: AbortSignal.timeout(requestTimeoutMs) })
  t.equal(readyA.status, 503, 'A reports not ready')
  t.equal((await fetch(`${B}/health/ready`, { signal: AbortSignal.timeout(requestTimeoutMs) })).status, 200, 'B is ready')
  proxy.release()
  const recovered = await waitUntil(async () => (await fetch(`${A}/health/ready`, { signal: AbortSignal.timeout(requestTimeoutMs) })).status === 200)
  t.ok(recovered !== undefined, `A is ready again without a restart (${String(recovered)} ms)`)
  t.equal((await redeemCode(A, client, pending)).status, 200, 'the code held during the outage was not consumed: it is redeemed now')
  t.equal((await redeemCode(B, client, pending)).status, 400, 'once')

  // A session, a consent and tokens, then both instances restart.
  const browser = new HttpBrowser()
  const before = await redeemCode(B, client, await obtainCode(A, client, browser))
  const kept = await before.json() as TokenResponse
  await Promise.all([a.close(), b.close()]);
  [a, b] = await Promise.all([startExampleServer(t, envA), startExampleServer(t, envB)])
  const info = await fetch(`${B}/userinfo`, { signal: AbortSignal.timeout(requestTimeoutMs), headers: { authorization: `Bearer ${kept.access_token}` } })
  t.equal(info.status, 200, 'after the restart: the access token works (its grant is kept)')
  t.equal((await refreshAt(A, kept.refresh_token)).status, 200, 'the refresh token refreshes, the client authenticates')
  await obtainCode(A, client, browser)
  t.notOk(browser.sawLogin, 'the login session is kept: no login page')
  t.notOk(browser.sawConsent, 'the consent is kept: no consent page')
})
