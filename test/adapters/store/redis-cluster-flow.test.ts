/**
 * One full flow through the example server on a real 3-master Redis Cluster (issue 6): the test
 * starts the cluster itself, points the example at it with REDIS_CLUSTER_NODES, and drives it
 * over HTTP: register, login + consent, code → tokens, refresh, userinfo, revoke. Under CI=true
 * a missing redis-server fails the test instead of skipping it (helpers/redis.ts).
 */
import t from 'tap'
import { Redis } from 'ioredis'
import { requireRedisServer, startRedisCluster } from '../../helpers/redis.js'
import { basicAuth, type TokenResponse } from '../../helpers/redis-instances.js'
import { startExampleServer } from '../../helpers/example-server.js'
import { obtainCode, postForm, redeemCode, registerWhenReady } from '../../helpers/redis-http.js'

if (requireRedisServer(t)) {
  t.test('register, log in, exchange, refresh, userinfo and revoke through the example server on a Cluster', async (t) => {
    const { nodes } = await startRedisCluster(t)
    const server = await startExampleServer(t, {
      REDIS_CLUSTER_NODES: nodes.map((node) => `${node.host}:${node.port}`).join(','),
      LOG_LEVEL: 'warn',
    })
    const { issuer } = server

    const client = await registerWhenReady(issuer)
    t.ok(client.client_secret, 'a client registered on the Cluster')
    const code = await obtainCode(issuer, client)
    t.equal(code.iss, issuer, 'login + consent end in a code with iss (RFC 9207)')

    const exchanged = await redeemCode(issuer, client, code)
    t.equal(exchanged.status, 200, 'code → tokens')
    t.equal(exchanged.headers.get('cache-control'), 'no-store')
    const tokens = await exchanged.json() as TokenResponse
    t.ok(tokens.id_token && tokens.refresh_token, 'an id_token and a refresh token')
    const replay = await redeemCode(issuer, client, code)
    t.equal((await replay.json() as { error: string }).error, 'invalid_grant', 'the code is single-use on the Cluster too')

    // The replay revoked that grant (RFC 6749 §4.1.2); log in again (SSO) for a live one.
    const live = await redeemCode(issuer, client, await obtainCode(issuer, client))
    t.equal(live.status, 200)
    const first = await live.json() as TokenResponse

    const refreshed = await postForm(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: first.refresh_token }, basicAuth(client))
    t.equal(refreshed.status, 200, 'refresh')
    const second = await refreshed.json() as TokenResponse
    t.not(second.refresh_token, first.refresh_token, 'the refresh token rotated')

    const info = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${second.access_token}` } })
    t.equal(info.status, 200, 'userinfo')
    t.match(await info.json(), { sub: 'demo', email: 'demo@example.com' })

    const revoked = await postForm(`${issuer}/revoke`, { token: second.refresh_token }, basicAuth(client))
    t.equal(revoked.status, 200, 'revoke the refresh token')
    const after = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${second.access_token}` } })
    t.equal(after.status, 401, 'its grant is gone: the access token is refused')
    const introspected = await postForm(`${issuer}/introspect`, { token: second.refresh_token }, basicAuth(client))
    t.same(await introspected.json(), { active: false }, 'the refresh token is inactive')
    const again = await postForm(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: second.refresh_token }, basicAuth(client))
    t.equal(again.status, 400, 'and cannot refresh')

    // The records really are spread over the Cluster, not on one node.
    const perNode = await Promise.all(nodes.map(async (node) => {
      const direct = new Redis(node.port, node.host, { lazyConnect: true, maxRetriesPerRequest: 1 })
      try {
        await direct.connect()
        return (await direct.keys('oidc:*')).length
      } finally {
        direct.disconnect()
      }
    }))
    t.ok(perNode.filter((count) => count > 0).length >= 2, `keys on several masters (${perNode.join(', ')})`)

    // Closed here, before the cluster's teardown stops its nodes.
    await server.close()
  })
}
