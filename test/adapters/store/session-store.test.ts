import t, { type Test } from 'tap'
import { MemoryStore } from '../../../lib/adapters/store/memory.js'
import type { SessionRecord, Store } from '../../../lib/contracts/store.js'
import { nowSeconds, randomToken } from '../../../lib/tokens/crypto.js'
import { listKeys, redisStoreFactory, requireRedis } from '../../helpers/redis.js'
import { postgresStoreFactory, requirePostgres } from '../../helpers/postgres.js'
import type { StoreFactory } from './contract.js'

function session (overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = nowSeconds()
  return { sessionId: randomToken(16), accountId: `acct-${randomToken(4)}`, authTime: now, expiresAt: now + 600, sid: randomToken(8), ...overrides }
}

/** The session-end intentions, for every store: the clients a session signed into, taken once. */
async function sessionContract (t: Test, name: string, factory: StoreFactory): Promise<void> {
  const run = (title: string, body: (t: Test, store: Store, other: Store) => Promise<void>): void => {
    t.test(`${name}: ${title}`, async (t) => {
      const { store, peer, cleanup } = await factory()
      t.teardown(cleanup)
      await body(t, store, peer ?? store)
    })
  }

  run('addSessionClient and takeSession hand the session over once, with its clients', async (t, store, other) => {
    const record = session()
    await store.saveSession(record)
    t.same(await store.getSession(record.sessionId), record, 'no clients yet: getSession leaves `clients` out')
    t.equal(await store.addSessionClient(record.sessionId, 'a'), true)
    await Promise.all(['b', 'c', 'a'].map(async (clientId) => await other.addSessionClient(record.sessionId, clientId)))
    // Issue 19: getSession reads the clients with the session, so a known client is not added again.
    const read = await other.getSession(record.sessionId)
    t.same([...read?.clients ?? []].sort(), ['a', 'b', 'c'], 'getSession returns the clients recorded so far')
    t.equal(await store.addSessionClient(randomToken(16), 'a'), false, 'no session, nothing recorded')
    const takers = await Promise.all([store.takeSession(record.sessionId), other.takeSession(record.sessionId), store.takeSession(record.sessionId)])
    const winners = takers.filter((taken) => taken !== undefined)
    t.equal(winners.length, 1, 'one of concurrent takers gets the session')
    const { clients, ...rest } = winners[0]!
    t.same(rest, record)
    t.same([...clients!].sort(), ['a', 'b', 'c'], 'every client, once')
    t.equal(await store.getSession(record.sessionId), undefined, 'the session is gone')
    t.equal(await store.addSessionClient(record.sessionId, 'd'), false, 'an ended session records no more clients')
    t.equal(await store.takeSession(record.sessionId), undefined)
  })

  run('a session without clients is taken with an empty list; deleteSession drops the clients', async (t, store) => {
    const lonely = session()
    await store.saveSession(lonely)
    t.same((await store.takeSession(lonely.sessionId))?.clients, [])
    const replaced = session()
    await store.saveSession(replaced)
    await store.addSessionClient(replaced.sessionId, 'a')
    await store.deleteSession(replaced.sessionId)
    await store.saveSession(replaced)
    t.same((await store.takeSession(replaced.sessionId))?.clients, [], 'a deleted session leaves no clients behind')
  })

  run('takeAccountSessions ends every session of the account and only those', async (t, store, other) => {
    const accountId = `acct-${randomToken(4)}`
    const mine = [session({ accountId }), session({ accountId })]
    const theirs = session()
    for (const record of [...mine, theirs]) await store.saveSession(record)
    await store.addSessionClient(mine[0]!.sessionId, 'a')
    await store.addSessionClient(mine[1]!.sessionId, 'b')
    const taken = await other.takeAccountSessions(accountId)
    t.same(taken.map((record) => record.clients).sort(), [['a'], ['b']])
    t.same(taken.map((record) => record.sid).sort(), mine.map((record) => record.sid).sort())
    for (const record of mine) t.equal(await store.getSession(record.sessionId), undefined)
    t.ok(await store.getSession(theirs.sessionId), 'another account keeps its session')
    t.same(await store.takeAccountSessions(accountId), [], 'nothing left')
  })
}

const memory: StoreFactory = async () => {
  const store = new MemoryStore()
  return { store, cleanup: async () => { await store.close() } }
}
await sessionContract(t, 'MemoryStore', memory)

t.test('MemoryStore: the sweep drops client lists of expired sessions', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const expired = session({ expiresAt: nowSeconds() - 1 })
  await store.saveSession({ ...expired, expiresAt: nowSeconds() + 600 })
  await store.addSessionClient(expired.sessionId, 'a')
  const before = store.size
  await store.saveSession(expired)
  store.sweep()
  t.equal(await store.takeSession(expired.sessionId), undefined)
  t.ok(store.size < before, 'nothing left of it')
})

const client = await requireRedis(t)
if (client !== undefined) {
  const peerClient = await requireRedis(t)
  if (peerClient !== undefined) await sessionContract(t, 'RedisStore', redisStoreFactory(client, peerClient))

  t.test('RedisStore: the client set expires with its session and shares its slot', async (t) => {
    const factory = redisStoreFactory(client)
    const { store, cleanup } = await factory()
    t.teardown(cleanup)
    const record = session()
    await store.saveSession(record)
    await store.addSessionClient(record.sessionId, 'a')
    const keys = await listKeys(client, '')
    const setKey = keys.find((key) => key.includes(`session-clients:{${record.sessionId}}`))
    t.ok(setKey, 'the set sits next to the session, under the same hash tag')
    const ttl = await client.pexpiretime(setKey!)
    t.ok(Math.abs(ttl - record.expiresAt * 1000) < 2000, 'and expires with it')
  })
}

t.test('PostgresStore', async (t) => {
  const pool = await requirePostgres(t)
  const peerPool = await requirePostgres(t)
  if (pool !== undefined && peerPool !== undefined) await sessionContract(t, 'PostgresStore', await postgresStoreFactory(t, pool, peerPool))
})
