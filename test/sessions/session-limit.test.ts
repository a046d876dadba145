import t, { type Test } from 'tap'
import { MemoryStore, RedisStore, type SecurityEvents, type Store } from '../../lib/index.js'
import { buildApp } from '../helpers/app.js'
import { CookieJar, runCodeFlow } from '../helpers/flow.js'
import { testUsers } from '../helpers/users.js'
import { nowSeconds, randomToken } from '../../lib/tokens/crypto.js'
import { deleteKeys, listKeys, requireRedis, testPrefix } from '../helpers/redis.js'
import { migratedPostgresStore } from '../helpers/postgres.js'

// `maxSessionsPerAccount`: one account's live login sessions are capped; a login past the cap
// ends the account's oldest session as a logout would (reason `limit`), on every store.

const REDIRECT = 'https://rp.example/cb'
const client = { client_id: 'web', client_secret: 'web-secret-0123456789abcdef', redirect_uris: [REDIRECT], first_party: true }

async function limitCase (t: Test, store: Store): Promise<void> {
  const app = await buildApp(t, { store, users: testUsers, clients: [client], maxSessionsPerAccount: 2 })
  const ended: Array<SecurityEvents['session.ended']> = []
  app.oidc.on('session.ended', (event) => ended.push(event))
  const login = async (username = 'demo', password = 'demo'): Promise<CookieJar> => {
    const jar = new CookieJar()
    const flow = await runCodeFlow(app, { clientId: client.client_id, redirectUri: REDIRECT, jar, username, password })
    t.ok(flow.code, 'signed in')
    return jar
  }
  /** Whether the browser is still signed in: prompt=none answers with a code, not login_required. */
  const signedIn = async (jar: CookieJar): Promise<boolean> => {
    const flow = await runCodeFlow(app, { clientId: client.client_id, redirectUri: REDIRECT, jar, extra: { prompt: 'none' } })
    return flow.code !== null
  }

  // A session about to expire: once expired it is neither listed nor counted, and the login
  // that lists the account's sessions drops it from the index (checked on Redis below).
  await store.saveSession({ sessionId: randomToken(32), accountId: 'demo', authTime: nowSeconds(), expiresAt: nowSeconds() + 1, sid: randomToken(16) })
  const first = await login()
  // authTime is in seconds: the first session must be the older one to be told from the second.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const second = await login()
  await login('alice', 'wonderland')
  t.equal((await app.oidc.accountSessions.list('demo')).length, 2, 'two live sessions (the expired one not counted): at the cap, nothing ended')
  t.same(ended, [])
  const third = await login()
  const listed = await app.oidc.accountSessions.list('demo')
  t.equal(listed.length, 2, 'a third login keeps the account at its cap')
  t.equal(ended.length, 1, 'one session ended')
  t.match(ended[0], { accountId: 'demo', reason: 'limit' }, 'the oldest, as a logout with reason `limit`')
  t.notOk(listed.some((session) => session.sid === ended[0]?.sid), 'the ended session is no longer listed')
  t.equal(await signedIn(first), false, 'the oldest browser is signed out')
  t.equal(await signedIn(second), true, 'the second browser stays signed in')
  t.equal(await signedIn(third), true, 'the newest browser is signed in')
  t.equal((await app.oidc.accountSessions.list('alice')).length, 1, 'another account is untouched')
}

t.test('MemoryStore: a login past maxSessionsPerAccount ends the oldest session', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  await limitCase(t, store)
})

t.test('RedisStore: a login past maxSessionsPerAccount ends the oldest session, and the index stays bounded', async (t) => {
  const redis = await requireRedis(t)
  if (redis === undefined) return
  const prefix = testPrefix()
  t.teardown(() => deleteKeys(redis, prefix))
  await limitCase(t, new RedisStore({ client: redis, prefix }))
  const index = (await listKeys(redis, prefix)).find((key) => key.startsWith(`${prefix}account-sessions:{demo}`))
  t.ok(index, 'the account has a session index')
  t.equal(await redis.scard(index!), 2, 'the index holds the live sessions only (neither the ended nor the expired one)')
})

t.test('PostgresStore: a login past maxSessionsPerAccount ends the oldest session', async (t) => {
  const store = await migratedPostgresStore(t)
  if (store === undefined) return
  await limitCase(t, store)
})

t.test('maxSessionsPerAccount is validated by name', async (t) => {
  for (const [value, message] of [[0, 'must be >= 1'], [1.5, 'must be integer'], ['100', 'must be integer'], [1001, 'must be <= 1000']] as const) {
    await t.rejects(buildApp(t, { maxSessionsPerAccount: value as number }), { message: new RegExp(`option "maxSessionsPerAccount" ${message}`) }, `${String(value)} is refused`)
  }
})
