/**
 * RedisStore on a real Redis Cluster: this test starts three masters on free loopback ports,
 * joins them with `redis-cli --cluster create`, runs the store contract through ioredis
 * `Cluster` clients (two of them: two provider instances), and tears it all down.
 */
import t from 'tap'
import { Cluster } from 'ioredis'
import { RedisStore } from '../../../lib/adapters/store/redis.js'
import { randomToken, sha256, nowSeconds } from '../../../lib/tokens/crypto.js'
import { clusterOptions } from '../../../examples/redis.js'
import { storeContract } from './contract.js'
import { deleteKeys, redisStoreFactory, requireRedisServer, startRedisCluster, testPrefix } from '../../helpers/redis.js'

if (requireRedisServer(t)) {
  const { nodes } = await startRedisCluster(t)

  const connect = async (): Promise<Cluster> => {
    // The example server's options: what a deployment on a Cluster would use.
    const cluster = new Cluster(nodes, clusterOptions)
    cluster.on('error', () => {})
    t.teardown(async () => { await cluster.quit().catch(() => { cluster.disconnect() }) })
    await new Promise<void>((resolve, reject) => {
      cluster.once('ready', resolve)
      cluster.once('end', () => { reject(new Error('the cluster client ended before it was ready')) })
      setTimeout(() => { reject(new Error('the cluster client was not ready within 15 s')) }, 15_000).unref()
    })
    return cluster
  }
  const cluster = await connect()
  const peer = await connect()

  await storeContract(t, 'RedisStore on a 3-master Redis Cluster', redisStoreFactory(cluster, peer))

  t.test('keys spread over every master, and cross-slot rotations still work', async (t) => {
    const prefix = testPrefix()
    const store = new RedisStore({ client: cluster, prefix })
    t.teardown(() => deleteKeys(cluster, prefix))
    const record = {
      clientId: 'rp',
      grantId: 'g',
      accountId: 'a',
      scope: 'openid',
      authTime: nowSeconds(),
      issuedAt: nowSeconds(),
      expiresAt: nowSeconds() + 60,
      familyExpiresAt: nowSeconds() + 600,
    }
    let hash = sha256(randomToken())
    await store.saveRefreshToken(hash, record)
    // A family of 30 rotations: each old and new token pair lands in unrelated slots.
    for (let i = 0; i < 30; i++) {
      const next = sha256(randomToken())
      const result = await store.consumeRefreshToken(hash, { tokenHash: next, record })
      if (result.status !== 'consumed') t.fail(`rotation ${i} did not consume (${result.status})`)
      hash = next
    }
    t.equal((await store.findRefreshToken(hash))?.status, 'active', 'the last token of the family is active')
    const masters = cluster.nodes('master')
    t.equal(masters.length, 3, 'three masters')
    const perNode = await Promise.all(masters.map(async (node) => await node.dbsize()))
    t.ok(perNode.every((count) => count > 0), `every master holds keys (${perNode.join(', ')})`)
  })
}
