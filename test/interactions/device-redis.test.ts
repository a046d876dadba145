import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { deviceCodeGrantType } from '../../lib/contracts/store.js'
import { requireRedis } from '../helpers/redis.js'
import { postForm, twoInstances } from '../helpers/redis-instances.js'
import { CookieJar, hiddenField } from '../helpers/flow.js'
import { userPart } from '../helpers/device.js'

/*
 * RFC 8628 on two provider instances sharing one Redis: wrong user codes count across both
 * (per browser and per IP), slow_down follows the device code from one instance to the other,
 * and 20 concurrent polls split between them redeem the approval once.
 */

const tv = { client_id: 'tv', token_endpoint_auth_method: 'none' as const, grant_types: [deviceCodeGrantType], client_name: 'TV', scope: 'openid profile' }

async function start (app: FastifyInstance): Promise<{ device_code: string, user_code: string }> {
  const res = await postForm(app, '/device_authorization', { client_id: 'tv', scope: 'openid profile' })
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`)
  return res.json()
}

const poll = async (app: FastifyInstance, deviceCode: string): Promise<LightMyRequestResponse> =>
  await postForm(app, '/token', { grant_type: deviceCodeGrantType, device_code: deviceCode, client_id: 'tv' })

t.test('two instances on Redis: user-code limits, slow_down and one redemption hold across them', async (t) => {
  const admin = await requireRedis(t)
  if (admin === undefined) return
  const [a, b] = await twoInstances(t, admin, { clients: [tv], rateLimit: { userCodeFailures: 3 } })

  // Wrong codes on A, B, A: the third locks this browser out on both.
  const jar = new CookieJar()
  // From an address of its own, so the IP counter it fills does not lock out the approval below.
  const remoteAddress = '192.0.2.7'
  const entry = await a.inject({ url: '/device', remoteAddress })
  jar.update(entry)
  const csrf = hiddenField(entry.body, 'csrf_token')
  const submit = async (app: FastifyInstance, code: string): Promise<LightMyRequestResponse> =>
    await app.inject({
      method: 'POST',
      url: '/device',
      remoteAddress,
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
      payload: new URLSearchParams({ user_code: code, csrf_token: csrf }).toString(),
    })
  t.same(await Promise.all([submit(a, 'BCDF-GHJK'), submit(b, 'BCDF-GHJL')]).then((all) => all.map((res) => res.statusCode)), [400, 400])
  t.equal((await submit(a, 'BCDF-GHJM')).statusCode, 400)
  const started = await start(b)
  const locked = await submit(b, started.user_code)
  t.equal(locked.statusCode, 429, 'the other instance refuses even the right code: the counter is shared')

  // slow_down: polled on A, then at once on B.
  t.equal((await poll(a, started.device_code)).json().error, 'authorization_pending')
  const fast = await poll(b, started.device_code)
  t.same([fast.statusCode, fast.json().error], [400, 'slow_down'], 'the interval is tracked per device code across instances')

  // Another browser from another address approves on A; 20 polls split over A and B.
  const done = await userPart(a, new CookieJar(), started.user_code, 'approve')
  t.match(done.body, /data-outcome="approved"/)
  const polls = await Promise.all(Array.from({ length: 20 }, async (_, index) => await poll(index % 2 === 0 ? a : b, started.device_code)))
  t.equal(polls.filter((res) => res.statusCode === 200).length, 1, 'one 200 among 20 concurrent polls on two instances')
  t.ok(polls.every((res) => res.statusCode === 200 || res.json().error === 'invalid_grant'))
})
