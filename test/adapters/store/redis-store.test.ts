import t, { type Test } from 'tap'
import { Redis, type RedisOptions } from 'ioredis'
import { RedisStore } from '../../../lib/adapters/store/redis.js'
import { StoreUnavailableError } from '../../../lib/contracts/errors.js'
import { nowSeconds, randomToken, sha256 } from '../../../lib/tokens/crypto.js'
import Fastify from 'fastify'
import { createRedisStore, parseClusterNodes, reconnectDelay, redisOptions } from '../../../examples/redis.js'
import { storeContract } from './contract.js'
import {
  connectRedis,
  deleteKeys,
  listKeys,
  redisStoreFactory,
  requireRedis,
  requireRedisServer,
  startRedisServer,
  testPrefix,
} from '../../helpers/redis.js'

const client = await requireRedis(t)

if (client !== undefined) {
  // The peer is a second connection: races and reads cross connections, as between two
  // provider instances.
  const peerClient = await requireRedis(t)
  if (peerClient !== undefined) await storeContract(t, 'RedisStore', redisStoreFactory(client, peerClient))

  t.test('every key lives under the prefix and has a TTL, except clients', async (t) => {
    const prefix = testPrefix()
    const store = new RedisStore({ client, prefix })
    t.teardown(() => deleteKeys(client, prefix))
    const later = nowSeconds() + 600
    const odd = 'rp{tag}:x%y'
    await store.saveClient({
      client_id: odd,
      token_endpoint_auth_method: 'none',
      redirect_uris: ['https://rp.example/cb'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid',
      application_type: 'web',
      client_id_issued_at: nowSeconds(),
    })
    const grant = { grantId: 'g1', accountId: 'alice', clientId: odd, scope: 'openid', createdAt: nowSeconds(), expiresAt: later }
    await store.saveGrant(grant)
    const codeHash = sha256(randomToken())
    await store.saveCode(codeHash, {
      clientId: odd,
      grantId: 'g1',
      accountId: 'alice',
      redirectUri: 'https://rp.example/cb',
      codeChallenge: 'c',
      codeChallengeMethod: 'S256',
      scope: 'openid',
      authTime: nowSeconds(),
      expiresAt: later,
    })
    await store.consumeCode(codeHash)
    const refresh = { clientId: odd, grantId: 'g1', accountId: 'alice', scope: 'openid', authTime: nowSeconds(), issuedAt: nowSeconds(), expiresAt: later, familyExpiresAt: later }
    const oldHash = sha256(randomToken())
    await store.saveRefreshToken(oldHash, refresh)
    await store.consumeRefreshToken(oldHash, { tokenHash: sha256(randomToken()), record: refresh })
    await store.revokeAccessToken('jti-1', later)
    await store.saveSession({ sessionId: 's1', accountId: 'alice', authTime: nowSeconds(), expiresAt: later })
    await store.saveInteraction({ interactionId: 'i1', clientId: odd, params: {}, csrfToken: 'c', expiresAt: later })
    await store.markUsed('nonce-1', later)
    await store.incrementCounter('login:alice', 60)

    const keys = await listKeys(client, prefix)
    t.equal(keys.length, 15, 'client and the client index, grant, pair, 2 indexes, code, 2 refresh, jti, session and its account index, interaction, used, counter')
    const ttls = await Promise.all(keys.map(async (key) => [key, await client.pttl(key)] as const))
    const clientKey = `${prefix}client:{rp%7Btag%7D%3Ax%25y}`
    t.ok(keys.includes(clientKey), 'ids are escaped, so an id cannot choose its own hash tag')
    const clientsIndexKey = `${prefix}clients:{index}`
    t.same(ttls.filter(([, ttl]) => ttl < 0).map(([key]) => key).sort(), [clientKey, clientsIndexKey].sort(), 'only the client key and the client index have no TTL')
    t.ok(ttls.every(([key, ttl]) => key === clientKey || key === clientsIndexKey || (ttl > 0 && ttl <= 600_000)), 'every other key expires with its record')
    t.ok(keys.every((key) => /\{[^{}]+\}$/.test(key)), 'every key ends in one hash tag')
    const indexTtl = await client.pttl(`${prefix}account-grants:{alice}`)
    t.ok(indexTtl > 590_000, 'the account index expires with its grant')

    // A longer-lived grant extends the index; a shorter one never shortens it.
    await store.saveGrant({ ...grant, grantId: 'g2', clientId: 'rp2', expiresAt: later + 600 })
    await store.saveGrant({ ...grant, grantId: 'g3', clientId: 'rp3', expiresAt: nowSeconds() + 60 })
    t.ok(await client.pttl(`${prefix}account-grants:{alice}`) > 1_190_000, 'EXPIRE GT extends the index to its longest grant')
    t.equal(await store.revokeAccountGrants('alice'), 3)
    t.equal(await client.exists(`${prefix}account-grants:{alice}`), 0, 'revoking empties the index')
    t.equal((await new RedisStore({ client, prefix }).getClient(odd))?.client_id, odd, 'an odd client_id round-trips, through a second store')
  })

  t.test('a refresh family lives beside its grant: one hash tag, a TTL on every key', async (t) => {
    const prefix = testPrefix()
    const store = new RedisStore({ client, prefix })
    t.teardown(() => deleteKeys(client, prefix))
    const now = nowSeconds()
    await store.saveGrant({ grantId: 'g{1}', accountId: 'alice', clientId: 'rp', scope: 'openid', createdAt: now, expiresAt: now + 600 })
    const family = { familyId: 'f1', grantId: 'g{1}', clientId: 'rp', accountId: 'alice', scope: 'openid', authTime: now, sessionId: 's1', offline: false, createdAt: now, expiresAt: now + 900 }
    const first = sha256(randomToken())
    t.equal(await store.startRefreshFamily(family, { tokenHash: first, issuedAt: now, expiresAt: now + 300 }), true)
    const rotated = await store.rotateRefreshToken({
      grantId: 'g{1}',
      familyId: 'f1',
      tokenHash: first,
      clientId: 'rp',
      graceSeconds: 10,
      successor: { tokenHash: sha256(randomToken()), lifetimeSeconds: 3000, sealed: 's' },
    })
    t.equal(rotated.status, 'rotated')
    if (rotated.status === 'rotated') t.ok(rotated.successor.expiresAt <= family.expiresAt, 'the successor is capped at the family end')
    const keys = await listKeys(client, prefix)
    const grantScoped = keys.filter((key) => /^[^{]*:(family|rt|grant):/.test(key.slice(prefix.length - 1)))
    t.equal(grantScoped.length, 4, 'grant, family, two refresh tokens')
    t.ok(grantScoped.every((key) => key.endsWith(':{g%7B1%7D}')), 'all under the grant\'s (escaped) hash tag')
    t.ok(keys.includes(`${prefix}session-families:{s1}`), 'the session index lives under the session\'s tag')
    const ttls = await Promise.all(keys.map(async (key) => await client.pttl(key)))
    t.ok(ttls.every((ttl) => ttl > 0 && ttl <= 900_000), 'every key expires, none after the family')
    // A shorter family never shortens the indexes, which live as long as their longest family.
    const short = { ...family, familyId: 'f2', expiresAt: now + 60 }
    t.equal(await store.startRefreshFamily(short, { tokenHash: sha256(randomToken()), issuedAt: now, expiresAt: now + 60 }), true)
    for (const index of [`${prefix}session-families:{s1}`, `${prefix}grant-families:{g%7B1%7D}`]) {
      t.ok(await client.pttl(index) > 800_000, `${index.slice(prefix.length)} keeps the longest family's end`)
    }
  })

  t.test('close() leaves the host-owned connection open; options are checked', async (t) => {
    const store = new RedisStore({ client })
    await store.close()
    t.equal(await client.ping(), 'PONG', 'the host still uses its client')
    t.throws(() => new RedisStore({ client, prefix: 'oidc:{app}:' }), /prefix/, 'a brace in the prefix would pin every key to one slot')
    t.throws(() => new RedisStore({ client, operationTimeoutMs: 0 }), /operationTimeoutMs/)
    t.throws(() => new RedisStore({ client: {} as unknown as Redis }), /client/)
  })
}

/**
 * Outage: a private redis-server is killed, then restarted on the same port; later frozen
 * (SIGSTOP) so the socket stays open and commands hang. In every case operations fail with
 * StoreUnavailableError within the bound, and the SAME store works again afterwards.
 */
async function outage (t: Test, clientOptions: RedisOptions, label: string): Promise<void> {
  if (!requireRedisServer(t)) return
  const server = await startRedisServer(t)
  const connected = await connectRedis(server.url, { ...clientOptions, lazyConnect: true })
  if (typeof connected === 'string') throw new Error(connected)
  const redis = connected
  t.teardown(() => { redis.disconnect() })
  const store = new RedisStore({ client: redis, operationTimeoutMs: 1500 })
  const later = (): number => nowSeconds() + 60

  const expectUnavailable = async (what: string): Promise<void> => {
    const started = Date.now()
    const error = await store.markUsed(randomToken(), later()).then(() => undefined, (caught: unknown) => caught)
    const elapsed = Date.now() - started
    t.ok(error instanceof StoreUnavailableError, `${label}: ${what}: StoreUnavailableError (${String(error)})`)
    t.ok((error as Error | undefined)?.cause !== undefined || /within/.test(String(error)), 'the cause is attached (or it timed out)')
    t.ok(elapsed < 3000, `${label}: ${what}: failed within the bound (${elapsed} ms)`)
  }
  const expectRecovery = async (what: string): Promise<void> => {
    const started = Date.now()
    let recovered = false
    while (!recovered && Date.now() - started < 15_000) {
      recovered = await store.markUsed(randomToken(), later()).then(() => true, () => false)
      if (!recovered) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    t.ok(recovered, `${label}: ${what}: the same store works again (${Date.now() - started} ms)`)
    const hash = sha256(randomToken())
    await store.saveCode(hash, {
      clientId: 'rp',
      grantId: 'g',
      accountId: 'a',
      redirectUri: 'https://rp.example/cb',
      codeChallenge: 'c',
      codeChallengeMethod: 'S256',
      scope: 'openid',
      authTime: nowSeconds(),
      expiresAt: later(),
    })
    t.equal((await store.consumeCode(hash)).status, 'consumed', `${label}: ${what}: a full save/consume succeeds`)
  }

  t.equal(await store.markUsed(randomToken(), later()), true, 'works before the outage')

  await server.stop()
  await expectUnavailable('Redis stopped')
  await expectUnavailable('still stopped')
  // Readiness (issue 19): ping fails the same bounded way, and answers again after the restart.
  await t.rejects(store.ping(), StoreUnavailableError, `${label}: ping while Redis is stopped: StoreUnavailableError`)
  await server.start()
  await expectRecovery('Redis restarted')
  await t.resolves(store.ping(), `${label}: ping answers again after the restart`)

  server.pause()
  await expectUnavailable('Redis frozen')
  server.resume()
  await expectRecovery('Redis unfrozen')
}

t.test('outage with the example server\'s ioredis options', async (t) => {
  await outage(t, redisOptions, 'example options')
})

t.test('outage with ioredis defaults (offline queue, 20 retries): the store timeout still bounds it', async (t) => {
  await outage(t, {}, 'ioredis defaults')
})

t.test('example createRedisStore: logs once per outage, recovers, and quits its own client', async (t) => {
  if (!requireRedisServer(t)) return
  const server = await startRedisServer(t)
  const lines: Array<{ level: number, msg: string }> = []
  const app = Fastify({
    logger: { level: 'info', stream: { write: (line: string) => { lines.push(JSON.parse(line) as { level: number, msg: string }) } } },
  })
  t.teardown(() => app.close())
  const { store, close } = createRedisStore({ REDIS_URL: server.url }, app.log)
  let closed = false
  t.teardown(async () => { if (!closed) await close() })
  const waitUntil = async (check: () => Promise<boolean>): Promise<boolean> => {
    for (let i = 0; i < 150; i++) {
      if (await check().catch(() => false)) return true
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return false
  }
  t.ok(await waitUntil(async () => await store.markUsed(randomToken(), nowSeconds() + 60)), 'the store works')

  const errors = (): number => lines.filter((line) => line.level >= 50).length
  const restored = (): number => lines.filter((line) => /restored/.test(line.msg)).length
  for (const round of [1, 2]) {
    await server.stop()
    await t.rejects(store.getSession('s'), StoreUnavailableError, `outage ${round}: 503 material`)
    // Several reconnect attempts fail during this wait; only the first is logged.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    t.equal(errors(), round, `outage ${round}: logged once (${errors()} error lines in total)`)
    await server.start()
    t.ok(await waitUntil(async () => await store.markUsed(randomToken(), nowSeconds() + 60)), `outage ${round}: recovered without a restart`)
    t.equal(restored(), round, `outage ${round}: recovery logged once`)
  }

  await close()
  closed = true
  await t.rejects(store.getSession('s'), StoreUnavailableError, 'close() quit the example-owned client')
})

t.test('example helpers: cluster node list and reconnect backoff', async (t) => {
  t.same(parseClusterNodes('127.0.0.1:7000, redis-b:7001,'), [{ host: '127.0.0.1', port: 7000 }, { host: 'redis-b', port: 7001 }])
  t.throws(() => parseClusterNodes('127.0.0.1'), /REDIS_CLUSTER_NODES/)
  t.throws(() => parseClusterNodes('h:70000'), /REDIS_CLUSTER_NODES/)
  t.same([1, 2, 3, 4, 5, 6, 50].map(reconnectDelay), [100, 200, 400, 800, 1600, 2000, 2000], 'capped exponential, never null')
})
