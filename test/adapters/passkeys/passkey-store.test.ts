import t from 'tap'
import type { Test } from 'tap'
import { MemoryPasskeyStore, RedisPasskeyStore, type PasskeyStore, type StoredPasskey } from '../../../lib/index.js'
import { deleteKeys, requireRedis, testPrefix } from '../../helpers/redis.js'
import { migratedPostgresStore } from '../../helpers/postgres.js'

function passkey (credentialId: string, accountId: string, createdAt: number): StoredPasskey {
  return { credentialId, accountId, publicKey: 'cHVibGlj', counter: 0, deviceType: 'singleDevice', backedUp: false, name: `key ${credentialId}`, createdAt, transports: ['usb'] }
}

/** The PasskeyStore contract, run against every implementation. */
async function contract (t: Test, store: PasskeyStore): Promise<void> {
  t.equal(await store.createPasskey(passkey('cred-b', 'alice', 200)), true, 'created')
  t.equal(await store.createPasskey(passkey('cred-a', 'alice', 100)), true)
  t.equal(await store.createPasskey(passkey('cred-c', 'bob', 150)), true)
  t.equal(await store.createPasskey({ ...passkey('cred-a', 'mallory', 300) }), false, 'a credential id is registered once, for whoever came first')
  t.same((await store.findPasskey('cred-a'))?.accountId, 'alice')
  t.equal(await store.findPasskey('nope'), undefined)
  t.same((await store.listPasskeys('alice')).map((p) => p.credentialId), ['cred-a', 'cred-b'], 'oldest first, only the user\'s')
  t.same(await store.listPasskeys('nobody'), [])
  t.same((await store.findPasskey('cred-b'))?.transports, ['usb'])

  // Compare-and-set on the counter: of 20 racing sign-ins that read counter 0, one records.
  const results = await Promise.all(Array.from({ length: 20 }, async (_, i) =>
    await store.recordPasskeyUse('cred-a', { previousCounter: 0, counter: i + 1, backedUp: true, usedAt: 500 })))
  t.equal(results.filter(Boolean).length, 1, 'one winner')
  const used = await store.findPasskey('cred-a')
  t.ok(used!.counter >= 1)
  t.equal(used!.backedUp, true)
  t.equal(used!.lastUsedAt, 500)
  t.equal(await store.recordPasskeyUse('gone', { previousCounter: 0, counter: 1, backedUp: false, usedAt: 1 }), false)

  t.equal(await store.renamePasskey('bob', 'cred-a', 'stolen'), false, 'only the owner renames')
  t.equal(await store.renamePasskey('alice', 'cred-a', 'Laptop'), true)
  t.equal((await store.findPasskey('cred-a'))?.name, 'Laptop')
  t.equal(await store.deletePasskey('bob', 'cred-a'), false, 'only the owner removes')
  t.equal(await store.deletePasskey('alice', 'cred-a'), true)
  t.equal(await store.deletePasskey('alice', 'cred-a'), false)
  t.same((await store.listPasskeys('alice')).map((p) => p.credentialId), ['cred-b'])
  t.equal(await store.findPasskey('cred-a'), undefined)
}

t.test('MemoryPasskeyStore keeps the contract', async (t) => {
  await contract(t, new MemoryPasskeyStore())
})

t.test('RedisPasskeyStore keeps the contract', async (t) => {
  const redis = await requireRedis(t)
  if (redis === undefined) return
  const prefix = testPrefix()
  t.teardown(async () => { await deleteKeys(redis, prefix) })
  await contract(t, new RedisPasskeyStore({ client: redis, prefix }))
})

t.test('PostgresStore.passkeyStore() keeps the contract', async (t) => {
  const store = await migratedPostgresStore(t)
  if (store === undefined) return
  await contract(t, store.passkeyStore())
})

t.test('RedisPasskeyStore refuses a client that is not ioredis, and a prefix with a hash tag', async (t) => {
  t.throws(() => new RedisPasskeyStore({ client: {} as never }), /ioredis/)
  t.throws(() => new RedisPasskeyStore({ client: { eval: () => {} } as never, prefix: 'a{b}' }), /prefix/)
})
