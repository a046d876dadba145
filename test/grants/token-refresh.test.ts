import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { SecurityEvents } from '../../lib/index.js'
import {
  CONFIDENTIAL, OTHER, PUBLIC_ID, basic, exchangeCode, issueCode, jwtClaims, postForm, tokenApp,
} from '../helpers/codes.js'
import type { FastifyInstance } from 'fastify'
import { nowSeconds, randomToken, sha256 } from '../../lib/tokens/crypto.js'

const auth = { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) }

async function refresh (app: FastifyInstance, refreshToken: string, extra: Record<string, string> = {}, headers = auth) {
  return await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }, headers)
}

async function start (app: FastifyInstance, store: Parameters<typeof issueCode>[0], options: Parameters<typeof issueCode>[1] = {}) {
  const res = await exchangeCode(app, await issueCode(store, { authTime: 1_700_000_000, nonce: 'n', ...options }))
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.json() as { access_token: string, refresh_token: string, id_token?: string }
}

t.test('rotation: a new refresh token each time, the old one fails, and its reuse kills the new one', async (t) => {
  const { app, store } = await tokenApp(t)
  const reused: Array<SecurityEvents['refresh_token.reused']> = []
  app.oidc.on('refresh_token.reused', (event) => reused.push(event))
  const first = await start(app, store)

  const second = await refresh(app, first.refresh_token)
  t.equal(second.statusCode, 200)
  t.equal(second.headers['cache-control'], 'no-store')
  t.equal(second.headers.pragma, 'no-cache')
  const body = second.json()
  t.not(body.refresh_token, first.refresh_token)
  t.equal(body.scope, 'openid profile email')
  const idToken = jwtClaims(body.id_token)
  t.equal(idToken.auth_time, 1_700_000_000, 'auth_time of the original login')
  t.equal(idToken.nonce, undefined, 'no nonce on refresh')
  t.equal(idToken.sub, 'demo')

  const third = await refresh(app, body.refresh_token)
  t.equal(third.statusCode, 200, 'the new token works')
  const latest = third.json()

  const replay = await refresh(app, first.refresh_token)
  t.equal(replay.statusCode, 400)
  t.equal(replay.json().error, 'invalid_grant')
  t.equal(reused.length, 1)
  t.equal(reused[0]?.clientId, CONFIDENTIAL.client_id)

  const afterReuse = await refresh(app, latest.refresh_token)
  t.equal(afterReuse.statusCode, 400, 'reuse revoked the whole family')
  t.equal(afterReuse.json().error, 'invalid_grant')
  const userinfo = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${latest.access_token}` } })
  t.equal(userinfo.statusCode, 401, 'and the access tokens under it')
})

t.test('20 concurrent refreshes of one token: 20 x 200 with one identical successor (grace window)', async (t) => {
  const { app, store } = await tokenApp(t)
  const { refresh_token: token } = await start(app, store)
  const results = await Promise.all(Array.from({ length: 20 }, async () => await refresh(app, token)))
  t.same(results.map((res) => res.statusCode), Array(20).fill(200))
  const successors = new Set(results.map((res) => res.json().refresh_token))
  t.equal(successors.size, 1, 'one rotation: every answer carries the same successor')
  t.equal(new Set(results.map((res) => res.json().access_token)).size, 20, 'each answer has its own access token')
})

t.test('with refreshTokenGrace: 0, a concurrent second use is reuse', async (t) => {
  const { app, store } = await tokenApp(t, { refreshTokenGrace: 0 })
  const { refresh_token: token } = await start(app, store)
  const results = await Promise.all(Array.from({ length: 5 }, async () => await refresh(app, token)))
  t.ok(results.filter((res) => res.statusCode === 200).length <= 1, 'at most one success')
  t.ok(results.filter((res) => res.statusCode !== 200).every((res) => res.json().error === 'invalid_grant'))
})

t.test('scope may narrow, never widen (RFC 6749 §6)', async (t) => {
  const { app, store } = await tokenApp(t)
  const { refresh_token: token } = await start(app, store)

  const wider = await refresh(app, token, { scope: 'openid profile email offline_access' })
  t.equal(wider.statusCode, 400)
  t.equal(wider.json().error, 'invalid_scope')
  t.equal(wider.headers['cache-control'], 'no-store')

  const narrow = await refresh(app, token, { scope: 'profile' })
  t.equal(narrow.statusCode, 200, 'the refused request did not consume the token')
  const body = narrow.json()
  t.equal(body.scope, 'profile')
  t.equal(body.id_token, undefined, 'no id_token once openid is narrowed away')
  t.equal(jwtClaims(body.access_token).scope, 'profile')

  // The new refresh token keeps the original scope.
  const again = await refresh(app, body.refresh_token)
  t.equal(again.statusCode, 200)
  t.equal(again.json().scope, 'openid profile email')
  t.ok(again.json().id_token)
})

t.test('another client cannot use (nor burn) the token', async (t) => {
  const { app, store } = await tokenApp(t)
  const { refresh_token: token } = await start(app, store)
  const stolen = await refresh(app, token, {}, { authorization: basic(OTHER.client_id, OTHER.client_secret) })
  t.equal(stolen.statusCode, 400)
  t.equal(stolen.json().error, 'invalid_grant')
  t.equal((await refresh(app, token)).statusCode, 200, 'the rightful client still can')
})

t.test('public clients refresh with client_id only', async (t) => {
  const { app, store } = await tokenApp(t)
  const res = await exchangeCode(app, await issueCode(store, { clientId: PUBLIC_ID }), { clientId: PUBLIC_ID })
  const next = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: res.json().refresh_token, client_id: PUBLIC_ID })
  t.equal(next.statusCode, 200)
  t.ok(next.json().refresh_token)
})

t.test('unknown, missing and revoked', async (t) => {
  const { app, store } = await tokenApp(t)
  const unknown = await refresh(app, 'not-a-token')
  t.equal(unknown.statusCode, 400)
  t.equal(unknown.json().error, 'invalid_grant')

  const missing = await postForm(app, '/token', { grant_type: 'refresh_token' }, auth)
  t.equal(missing.statusCode, 400)
  t.equal(missing.json().error, 'invalid_request')

  const issued = await issueCode(store)
  const tokens = (await exchangeCode(app, issued)).json()
  t.equal(await app.oidc.revokeAccountGrants('demo'), 1)
  const revoked = await refresh(app, tokens.refresh_token)
  t.equal(revoked.statusCode, 400)
  t.equal(revoked.json().error, 'invalid_grant')
})

t.test('lifetimes: refresh token TTL and the family absolute lifetime (short TTLs)', async (t) => {
  const { app, store } = await tokenApp(t, { ttl: { refreshToken: 60, refreshTokenAbsolute: 2 } })
  const first = await start(app, store)
  const rotated = await refresh(app, first.refresh_token)
  t.equal(rotated.statusCode, 200)
  const introspection = await postForm(app, '/introspect', { token: rotated.json().refresh_token }, auth)
  const { exp, iat } = introspection.json()
  t.ok(exp - iat <= 2, 'rotation never extends past the family end')
  await sleep(2100)
  const expired = await refresh(app, rotated.json().refresh_token)
  t.equal(expired.statusCode, 400)
  t.equal(expired.json().error, 'invalid_grant')
})

t.test('a refresh token expires after its own TTL', async (t) => {
  const { app, store } = await tokenApp(t, { ttl: { refreshToken: 1 } })
  const first = await start(app, store)
  await sleep(1100)
  const expired = await refresh(app, first.refresh_token)
  t.equal(expired.statusCode, 400)
  t.equal(expired.json().error, 'invalid_grant')
})

t.test('a refresh token from before families is honoured once and moves the client to a family', async (t) => {
  const { app, store } = await tokenApp(t)
  const now = nowSeconds()
  const grantId = randomToken(16)
  await store.saveGrant({ grantId, accountId: 'demo', clientId: CONFIDENTIAL.client_id, scope: 'openid profile', createdAt: now, expiresAt: now + 3600 })
  const legacy = randomToken(32)
  await store.saveRefreshToken(sha256(legacy), {
    clientId: CONFIDENTIAL.client_id, grantId, accountId: 'demo', scope: 'openid profile', authTime: now, issuedAt: now, expiresAt: now + 600, familyExpiresAt: now + 3600,
  })
  t.equal((await refresh(app, legacy, {}, { authorization: basic(OTHER.client_id, OTHER.client_secret) })).json().error, 'invalid_grant', 'another client')
  t.equal((await refresh(app, legacy, { scope: 'openid email' })).json().error, 'invalid_scope', 'a scope not granted')
  const moved = await refresh(app, legacy, { scope: 'openid' })
  t.equal(moved.statusCode, 200)
  t.equal(moved.json().scope, 'openid')
  t.match(moved.json().refresh_token, /^[\w-]+~[\w-]+~[\w-]{43}$/, 'answered with a family token')
  const next = await refresh(app, moved.json().refresh_token)
  t.equal(next.statusCode, 200, 'which rotates')
  t.equal(next.json().scope, 'openid profile', 'within the original scope')
  t.equal((await refresh(app, legacy)).json().error, 'invalid_grant', 'the old token is single use')
  t.equal(await store.getGrant(grantId), undefined, 'and its reuse revokes the grant, as it always did')
  t.equal((await refresh(app, 'not-a-token')).json().error, 'invalid_grant', 'garbage')
})

t.test('a rotation extends a grant that would end before the successor, to the family end (issue 12)', async (t) => {
  const { app, store } = await tokenApp(t, { ttl: { refreshToken: 100, refreshTokenAbsolute: 5000 } })
  const issued = await issueCode(store, { grantTtl: 3600 })
  const first = (await exchangeCode(app, issued)).json()
  const grant = await store.getGrant(issued.grantId)
  t.ok((grant?.expiresAt ?? Infinity) <= nowSeconds() + 3600, 'no extension needed at the exchange')
  // The consent is about to end (saved again with a near end, as a re-consent could).
  if (grant !== undefined) await store.saveGrant({ ...grant, expiresAt: nowSeconds() + 30 })
  const rotated = await refresh(app, first.refresh_token)
  t.equal(rotated.statusCode, 200)
  const extended = await store.getGrant(issued.grantId)
  t.ok((extended?.expiresAt ?? 0) >= nowSeconds() + 4990, `extended to the family's end (${(extended?.expiresAt ?? 0) - nowSeconds()} s left)`)
})

t.test('host revocation still ends every family of the grant; a code replay ends only its own', async (t) => {
  const { app, store } = await tokenApp(t)
  const phoneCode = await issueCode(store)
  const phone = (await exchangeCode(app, phoneCode)).json()
  const laptop = (await exchangeCode(app, await issueCode(store, { grantId: phoneCode.grantId }))).json()
  t.equal((await exchangeCode(app, phoneCode)).json().error, 'invalid_grant', 'the phone code is replayed')
  t.equal((await refresh(app, phone.refresh_token)).json().error, 'invalid_grant', "the replay ended the phone's family")
  const laptopNext = await refresh(app, laptop.refresh_token)
  t.equal(laptopNext.statusCode, 200, "the laptop's family of the same grant lives")
  t.equal(await app.oidc.revokeAccountGrants('demo'), 1)
  t.equal((await refresh(app, laptopNext.json().refresh_token)).json().error, 'invalid_grant', 'revokeAccountGrants ends it too')
  t.equal((await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${laptopNext.json().access_token}` } })).statusCode, 401)
})
