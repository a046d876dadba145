/**
 * Issue 13 over real Redis, across provider instances: the refresh grace window, token
 * families, theft detection, retry-safe store failures, and families that end with their login
 * session (issue 15's expiresWithSession rule).
 */
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { RedisStore, type SecurityEvents } from '../../lib/index.js'
import { REDIS_URL, deleteKeys, requireRedis, testPrefix } from '../helpers/redis.js'
import {
  CookieJar,
} from '../helpers/flow.js'
import {
  basicAuth, introspect, postForm, redeem, refresh, registerClient, splitCodeFlow, startInstance, twoInstances, userinfo,
  type RegisteredClient, type TokenResponse,
} from '../helpers/redis-instances.js'
import { startHoldingProxy } from '../helpers/tcp-proxy.js'

const admin = await requireRedis(t)

/** A code flow and its redemption: one new token family. */
async function login (apps: FastifyInstance[], client: RegisteredClient, options: { jar?: CookieJar, scope?: string } = {}): Promise<TokenResponse> {
  const res = await redeem(apps[0]!, client, await splitCodeFlow(apps, client, options))
  if (res.statusCode !== 200) throw new Error(`redemption failed: ${res.statusCode} ${res.body}`)
  return res.json<TokenResponse>()
}

if (admin !== undefined) {
  t.test('20 concurrent refreshes across two instances: 20 x 200, one identical successor, which then rotates normally', async (t) => {
    const [a, b] = await twoInstances(t, admin)
    const retried: Array<SecurityEvents['refresh_token.retried']> = []
    a.oidc.on('refresh_token.retried', (event) => retried.push(event))
    b.oidc.on('refresh_token.retried', (event) => retried.push(event))
    const client = await registerClient(a)
    const tokens = await login([a, b], client)
    const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => await refresh(i % 2 === 0 ? a : b, client, tokens.refresh_token)))
    t.same(results.map((res) => res.statusCode), Array(20).fill(200), '20 x 200')
    const bodies = results.map((res) => res.json<TokenResponse>())
    const successors = new Set(bodies.map((body) => body.refresh_token))
    t.equal(successors.size, 1, 'one identical new refresh token')
    const [successor = ''] = successors
    t.not(successor, tokens.refresh_token)
    t.ok(bodies.every((body) => typeof body.id_token === 'string'), 'each with an ID token, as the first answer had')
    t.equal(new Set(bodies.map((body) => body.access_token)).size, 20, 'and its own fresh access token')
    for (const body of bodies.slice(0, 3)) t.equal((await userinfo(b, body.access_token)).statusCode, 200, 'which works')
    t.equal(retried.length, 19, 'every other answer was a grace retry')
    t.match(retried[0], { clientId: client.client_id, grantId: String, familyId: String })
    t.notMatch(JSON.stringify(retried), tokens.refresh_token.split('~')[2] ?? '', 'events never carry token values')
    t.notMatch(JSON.stringify(retried), successor.split('~')[2] ?? '')

    const next = await refresh(b, client, successor)
    t.equal(next.statusCode, 200, 'the successor rotates normally')
    t.not(next.json().refresh_token, successor)
  })

  t.test('theft: the old token after its successor was used revokes that family only; the second device keeps working', async (t) => {
    const [a, b] = await twoInstances(t, admin)
    const reused: Array<SecurityEvents['refresh_token.reused']> = []
    b.oidc.on('refresh_token.reused', (event) => reused.push(event))
    const client = await registerClient(a)
    const phone = await login([a, b], client)
    const laptop = await login([b, a], client)
    t.equal(phone.refresh_token.split('~')[0], laptop.refresh_token.split('~')[0], 'one grant (user + client) ...')
    t.not(phone.refresh_token.split('~')[1], laptop.refresh_token.split('~')[1], '... two families')

    const second = (await refresh(a, client, phone.refresh_token)).json<TokenResponse>()
    const third = (await refresh(b, client, second.refresh_token)).json<TokenResponse>()
    t.ok(third.refresh_token, 'the successor was used')
    const stolen = await refresh(b, client, phone.refresh_token)
    t.equal(stolen.statusCode, 400)
    t.equal(stolen.json().error, 'invalid_grant', 'the old token is reuse')
    t.match(reused, [{ clientId: client.client_id, grantId: String, familyId: phone.refresh_token.split('~')[1] }])
    t.equal((await refresh(a, client, third.refresh_token)).json().error, 'invalid_grant', "the family's latest refresh token is revoked")
    t.same(await introspect(a, client, third.access_token), { active: false }, 'its access tokens are inactive at introspection')
    t.same(await introspect(b, client, phone.access_token), { active: false })
    t.equal((await userinfo(a, third.access_token)).statusCode, 401)

    t.match(await introspect(b, client, laptop.access_token), { active: true }, "the laptop's access token is still active")
    const laptopNext = await refresh(a, client, laptop.refresh_token)
    t.equal(laptopNext.statusCode, 200, 'and the laptop still refreshes')
    t.equal((await userinfo(b, laptopNext.json().access_token)).statusCode, 200)
  })

  t.test('after the grace window the old token is reuse: invalid_grant and the family revoked', async (t) => {
    // 3 s: room for the retry below on a loaded machine; then waiting past it is a lower bound.
    const [a, b] = await twoInstances(t, admin, { refreshTokenGrace: 3 })
    const client = await registerClient(a)
    const tokens = await login([a], client)
    const rotated = (await refresh(a, client, tokens.refresh_token)).json<TokenResponse>()
    const retry = await refresh(b, client, tokens.refresh_token)
    t.equal(retry.json().refresh_token, rotated.refresh_token, 'within the window: the same successor')
    await sleep(3200)
    t.equal((await refresh(b, client, tokens.refresh_token)).json().error, 'invalid_grant', 'after it: reuse')
    t.equal((await refresh(a, client, rotated.refresh_token)).json().error, 'invalid_grant', 'and the unused successor died with its family')
    t.same(await introspect(a, client, rotated.access_token), { active: false })
  })

  t.test('another client, or a retry with another scope: invalid_grant and nothing changes', async (t) => {
    const [a, b] = await twoInstances(t, admin)
    const client = await registerClient(a)
    const thief = await registerClient(b)
    const tokens = await login([a], client)
    t.equal((await refresh(b, thief, tokens.refresh_token)).json().error, 'invalid_grant', "another client's live token")
    const first = await postForm(a, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, scope: 'openid profile' }, basicAuth(client))
    t.equal(first.statusCode, 200, 'the owner still rotates it')
    t.equal(first.json().scope, 'openid profile', 'narrowed as asked')
    t.equal((await refresh(b, thief, tokens.refresh_token)).json().error, 'invalid_grant', "another client's rotated token")
    const wider = await postForm(b, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, basicAuth(client))
    t.equal(wider.json().error, 'invalid_grant', 'a retry without the first scope is refused')
    const other = await postForm(b, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, scope: 'openid' }, basicAuth(client))
    t.equal(other.json().error, 'invalid_grant', 'and one with another scope')
    const same = await postForm(b, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, scope: 'profile openid' }, basicAuth(client))
    t.equal(same.statusCode, 200, 'the same scope (in any order) is a retry')
    t.equal(same.json().refresh_token, first.json().refresh_token, 'with the same successor')
    t.equal((await refresh(a, client, first.json().refresh_token)).statusCode, 200, 'nothing was revoked')
  })

  t.test('a rotation whose Redis write is held past the 503 and then runs: the retry gets the successor', async (t) => {
    const target = new URL(REDIS_URL)
    const proxy = await startHoldingProxy(t, { host: target.hostname, port: Number(target.port || 6379) })
    const prefix = testPrefix()
    // The store's default operation bound (2 s): short enough for the test, long enough that
    // nothing but the held write times out on a loaded machine.
    const instance = await startInstance(proxy.url, prefix, {}, (options) => new RedisStore({ ...options, operationTimeoutMs: 2000 }))
    t.teardown(async () => { await instance.close(); await deleteKeys(admin, prefix) })
    const app = instance.app
    const retried: Array<SecurityEvents['refresh_token.retried']> = []
    app.oidc.on('refresh_token.retried', (event) => retried.push(event))
    const client = await registerClient(app)
    const tokens = await login([app], client)

    // Client authentication's reads go through; the rotation script (it names the family's
    // key) and everything after it are held.
    proxy.holdFrom((chunk) => chunk.includes(':family:'))
    const stalled = await refresh(app, client, tokens.refresh_token)
    t.equal(stalled.statusCode, 503, 'the client is answered 503 while the write is held')
    t.equal(stalled.json().error, 'temporarily_unavailable')
    t.ok(proxy.heldBytes > 0, 'the rotation was sent and is held')
    proxy.release()

    const retry = await refresh(app, client, tokens.refresh_token)
    t.equal(retry.statusCode, 200, 'the retry is answered 200')
    t.equal(retried.length, 1, 'as a grace retry: the held rotation ran first')
    const body = retry.json<TokenResponse>()
    t.ok(body.refresh_token && body.refresh_token !== tokens.refresh_token, 'with the successor of the held rotation')
    t.equal((await userinfo(app, body.access_token)).statusCode, 200, 'userinfo works with the new access token')
    const again = await refresh(app, client, tokens.refresh_token)
    t.equal(again.json().refresh_token, body.refresh_token, 'the successor is the one the held rotation stored')
    t.equal((await refresh(app, client, body.refresh_token)).statusCode, 200, 'the family is alive: the successor rotates')
  })

  t.test('ending the login session ends its families without offline_access; offline ones survive (issue 15)', async (t) => {
    const [a, b] = await twoInstances(t, admin)
    const client = await registerClient(a)
    const jar = new CookieJar()
    const online = await login([a, b], client, { jar, scope: 'openid profile' })
    const offline = await login([b, a], client, { jar, scope: 'openid profile offline_access' })
    t.equal(await b.oidc.endAccountSessions('demo'), 1, 'one login session ended')
    t.equal((await refresh(a, client, online.refresh_token)).json().error, 'invalid_grant', 'the family without offline_access ended with it')
    t.same(await introspect(b, client, online.access_token), { active: false }, 'with its access tokens')
    const kept = await refresh(b, client, offline.refresh_token)
    t.equal(kept.statusCode, 200, 'the offline_access family still works')
    t.match(kept.json().scope, /offline_access/)
  })
}
