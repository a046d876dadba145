import t from 'tap'
import { RedisStore } from '../../lib/index.js'
import { requireRedis, deleteKeys, testPrefix } from '../helpers/redis.js'
import { CONFIDENTIAL, basic, exchangeCode, issueCode, postForm, tokenApp } from '../helpers/codes.js'

// The token lifecycle over Redis: the same races as in memory, across real round trips.
const client = await requireRedis(t)
const auth = { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) }

if (client !== undefined) {
  const redisApp = async (t: Parameters<typeof tokenApp>[0], ttl: Record<string, number> = {}) => {
    const prefix = testPrefix()
    t.teardown(() => deleteKeys(client, prefix))
    return await tokenApp(t, { store: new RedisStore({ client, prefix }), ttl })
  }

  t.test('20 concurrent redemptions of one code: one success, and its tokens die', async (t) => {
    const { app, store } = await redisApp(t)
    const issued = await issueCode(store)
    const results = await Promise.all(Array.from({ length: 20 }, async () => await exchangeCode(app, issued)))
    const winners = results.filter((res) => res.statusCode === 200)
    t.equal(winners.length, 1)
    t.ok(results.every((res) => res.statusCode === 200 || res.json().error === 'invalid_grant'))
    const { access_token: accessToken, refresh_token: refreshToken } = winners[0]?.json() as Record<string, string>
    t.equal((await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${accessToken}` } })).statusCode, 401)
    t.same((await postForm(app, '/introspect', { token: accessToken }, auth)).json(), { active: false })
    t.same((await postForm(app, '/introspect', { token: refreshToken ?? '' }, auth)).json(), { active: false })
  })

  t.test('20 concurrent refreshes: one rotation, one successor for all; rotation and reuse detection', async (t) => {
    const { app, store } = await redisApp(t)
    const tokens = (await exchangeCode(app, await issueCode(store))).json()
    const results = await Promise.all(Array.from({ length: 20 }, async () =>
      await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, auth)))
    t.equal(results.filter((res) => res.statusCode === 200).length, 20)
    t.equal(new Set(results.map((res) => res.json().refresh_token)).size, 1, 'one successor')

    const fresh = (await exchangeCode(app, await issueCode(store, { accountId: 'alice' }))).json()
    const rotated = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: fresh.refresh_token }, auth)
    t.equal(rotated.statusCode, 200)
    t.equal((await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: rotated.json().refresh_token }, auth)).statusCode, 200, 'the successor is used')
    const reuse = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: fresh.refresh_token }, auth)
    t.equal(reuse.json().error, 'invalid_grant')
    const killed = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: rotated.json().refresh_token }, auth)
    t.equal(killed.json().error, 'invalid_grant', 'reuse revoked the new token too')
  })

  t.test('revoked access tokens are refused at userinfo and introspection', async (t) => {
    const { app, store } = await redisApp(t)
    const tokens = (await exchangeCode(app, await issueCode(store))).json()
    t.equal((await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokens.access_token}` } })).statusCode, 200)
    t.equal((await postForm(app, '/revoke', { token: tokens.access_token }, auth)).statusCode, 200)
    t.equal((await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokens.access_token}` } })).statusCode, 401)
    t.same((await postForm(app, '/introspect', { token: tokens.access_token }, auth)).json(), { active: false })
    t.equal((await postForm(app, '/introspect', { token: tokens.refresh_token }, auth)).json().active, true, 'the grant lives on')
    t.equal(await app.oidc.revokeAccountGrants('demo'), 1)
    t.same((await postForm(app, '/introspect', { token: tokens.refresh_token }, auth)).json(), { active: false })
  })
}
