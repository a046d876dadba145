import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { calculateJwkThumbprint, createLocalJWKSet, decodeJwt, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose'
import { MemoryStore } from '../../lib/index.js'
import { buildApp, ISSUER } from '../helpers/app.js'
import { testUsers } from '../helpers/users.js'
import { CookieJar, hiddenField } from '../helpers/flow.js'
import { userPart } from '../helpers/device.js'
import { deviceCodeGrantType } from '../../lib/contracts/store.js'
import { userCodeAlphabet } from '../../lib/interactions/user-code.js'

/*
 * RFC 8628 end to end over app.inject: the device authorization endpoint, the verification
 * page (code entry, login, consent) driven with a cookie jar, and polling at /token.
 * Browser runs (Chromium, openid-client) are in test/examples/device.test.ts.
 */

const tv = { client_id: 'tv', token_endpoint_auth_method: 'none' as const, grant_types: [deviceCodeGrantType, 'refresh_token' as const], client_name: 'Living Room TV', scope: 'openid profile offline_access' }
const cli = { client_id: 'cli', client_secret: 'cli-secret-0123456789abcdef', grant_types: [deviceCodeGrantType], client_name: 'Deploy CLI', scope: 'openid profile' }
const web = { client_id: 'web', client_secret: 'web-secret-0123456789abcdef', redirect_uris: ['https://rp.example/cb'] }
const form = { 'content-type': 'application/x-www-form-urlencoded' }

async function provider (t: Parameters<typeof buildApp>[0], extra = {}): Promise<FastifyInstance> {
  return await buildApp(t, { users: testUsers, clients: [tv, cli, web], store: new MemoryStore(), deviceFlow: { interval: 1 }, ...extra })
}

async function post (app: FastifyInstance, url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url, headers: { ...form, ...headers }, payload: new URLSearchParams(fields).toString() })
}

interface Started { device_code: string, user_code: string, verification_uri: string, verification_uri_complete: string, expires_in: number, interval: number }

async function start (app: FastifyInstance, fields: Record<string, string> = { client_id: 'tv', scope: 'openid profile offline_access' }): Promise<Started> {
  const res = await post(app, '/device_authorization', fields)
  if (res.statusCode !== 200) throw new Error(`device_authorization: ${res.statusCode} ${res.body}`)
  return res.json<Started>()
}

const poll = async (app: FastifyInstance, deviceCode: string, clientId = 'tv'): Promise<LightMyRequestResponse> =>
  await post(app, '/token', { grant_type: deviceCodeGrantType, device_code: deviceCode, client_id: clientId })

t.test('discovery and registration know the grant; the endpoint answers RFC 8628 §3.2', async (t) => {
  const app = await provider(t, { registration: {} })
  const metadata = (await app.inject('/.well-known/openid-configuration')).json()
  t.equal(metadata.device_authorization_endpoint, `${ISSUER}/device_authorization`)
  t.ok(metadata.grant_types_supported.includes(deviceCodeGrantType))

  const registered = await app.inject({ method: 'POST', url: '/register', payload: { client_name: 'CLI', grant_types: [deviceCodeGrantType, 'refresh_token'], token_endpoint_auth_method: 'none' } })
  t.equal(registered.statusCode, 201, 'a device client registers without redirect_uris, with refresh_token')

  const res = await post(app, '/device_authorization', { client_id: 'tv', scope: 'openid profile' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  const body = res.json<Started>()
  t.match(body.user_code, new RegExp(`^[${userCodeAlphabet}]{4}-[${userCodeAlphabet}]{4}$`), 'XXXX-XXXX from the consonant alphabet')
  t.match(body.device_code, /^[A-Za-z0-9_-]{43}$/, '256-bit device code')
  t.same({ ...body, device_code: '', user_code: '' }, {
    device_code: '',
    user_code: '',
    verification_uri: `${ISSUER}/device`,
    verification_uri_complete: `${ISSUER}/device?user_code=${body.user_code}`,
    expires_in: 600,
    interval: 1,
  })

  const web = await post(app, '/device_authorization', { scope: 'openid' }, { authorization: `Basic ${Buffer.from('web:web-secret-0123456789abcdef').toString('base64')}` })
  t.same([web.statusCode, web.json()], [400, { error: 'unauthorized_client', error_description: `the client is not registered for grant_type '${deviceCodeGrantType}'` }])
  const badSecret = await post(app, '/device_authorization', { client_id: 'cli', client_secret: 'wrong' })
  t.equal(badSecret.statusCode, 401, 'a confidential client authenticates as at /token')
  const badResource = await post(app, '/device_authorization', { client_id: 'tv', resource: 'https://unknown.example/' })
  t.same([badResource.statusCode, badResource.json().error], [400, 'invalid_target'], 'resource goes through the one parser')
  const badClaims = await post(app, '/device_authorization', { client_id: 'tv', claims: '{not json' })
  t.same([badClaims.statusCode, badClaims.json().error], [400, 'invalid_request'])
})

t.test('pending, slow_down, approval on the pages, one redemption of 20 concurrent polls, refresh', async (t) => {
  const app = await provider(t)
  const started = await start(app)
  const first = await poll(app, started.device_code)
  t.same([first.statusCode, first.json().error], [400, 'authorization_pending'])
  const fast = await poll(app, started.device_code)
  t.same([fast.statusCode, fast.json()], [400, { error: 'slow_down', error_description: 'polling too fast; wait 6 seconds between requests' }], 'interval + 5 s')

  const other = await post(app, '/token', { grant_type: deviceCodeGrantType, device_code: started.device_code, client_id: 'cli', client_secret: cli.client_secret })
  t.same([other.statusCode, other.json().error], [400, 'invalid_grant'], "another client cannot poll or redeem the tv's code")

  const jar = new CookieJar()
  const done = await userPart(app, jar, started.user_code.toLowerCase().replace('-', ' '), 'approve')
  t.equal(done.statusCode, 200)
  t.match(done.body, /data-outcome="approved"/)
  t.match(done.body, /Living Room TV is now signed in\. You can close this window/)
  t.match(done.headers['content-security-policy'], /form-action 'self';/)

  const polls = await Promise.all(Array.from({ length: 20 }, async () => await poll(app, started.device_code)))
  const ok = polls.filter((res) => res.statusCode === 200)
  t.equal(ok.length, 1, 'exactly one of 20 concurrent polls gets tokens')
  t.ok(polls.filter((res) => res.statusCode !== 200).every((res) => res.json().error === 'invalid_grant'), 'the others: invalid_grant')
  const tokens = ok[0]!.json()
  t.equal(tokens.token_type, 'Bearer')
  t.equal(tokens.scope, 'openid profile offline_access')
  t.type(tokens.refresh_token, 'string', 'a refresh token for a client registered for it')
  const jwks = createLocalJWKSet((await app.inject('/jwks.json')).json())
  const { payload } = await jwtVerify(tokens.id_token, jwks, { issuer: ISSUER, audience: 'tv' })
  t.equal(payload.sub, 'demo')
  t.same(payload.amr, ['pwd'])
  const userinfo = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.equal(userinfo.json().name, 'Demo User')
  const refreshed = await post(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: 'tv' })
  t.equal(refreshed.statusCode, 200, 'the refresh token works like the code flow\'s')

  // SSO: a second device in the same browser still asks for the user's confirmation (§5.4).
  const second = await start(app)
  const again = await userPart(app, jar, second.user_code, 'approve')
  t.match(again.body, /data-outcome="approved"/, 'confirmed on the consent page although a session and a grant exist')
})

t.test('verification_uri_complete prefills the code and still asks; deny; expiry', async (t) => {
  const app = await provider(t)
  const started = await start(app)
  const page = await app.inject(new URL(started.verification_uri_complete).pathname + new URL(started.verification_uri_complete).search)
  t.equal(page.statusCode, 200)
  t.match(page.body, new RegExp(`name="user_code" value="${started.user_code}"`), 'the code is filled in')
  t.match(page.body, /Check that this code matches the one shown on your device/)
  t.match(page.headers['content-security-policy'], /default-src 'none'/)
  const pending = await poll(app, started.device_code)
  t.equal(pending.json().error, 'authorization_pending', 'opening the link alone approves nothing')

  const denied = await userPart(app, new CookieJar(), started.user_code, 'deny')
  t.match(denied.body, /data-outcome="denied"/)
  const answer = await poll(app, started.device_code)
  t.same([answer.statusCode, answer.json().error], [400, 'access_denied'])

  const shortLived = await provider(t, { ttl: { deviceCode: 1 } })
  const late = await start(shortLived)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const expired = await poll(shortLived, late.device_code)
  t.same([expired.statusCode, expired.json()], [400, { error: 'expired_token', error_description: 'the device_code has expired; start a new device authorization' }])
})

t.test('wrong user codes are refused and counted per browser; the form is CSRF- and cross-site-guarded', async (t) => {
  const app = await provider(t, { rateLimit: { userCodeFailures: 3 } })
  const events: Array<{ locked: boolean }> = []
  app.oidc.on('device.user_code_failure', (event) => events.push(event))
  const jar = new CookieJar()
  const entry = await app.inject('/device')
  jar.update(entry)
  const csrf = hiddenField(entry.body, 'csrf_token')
  const submit = async (code: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
    await post(app, '/device', { user_code: code, csrf_token: csrf }, { cookie: jar.header(), ...headers })

  const forged = await post(app, '/device', { user_code: 'BCDF-GHJK', csrf_token: 'x' }, { cookie: jar.header() })
  t.equal(forged.statusCode, 403, 'a wrong CSRF token is refused')
  const crossSite = await submit('BCDF-GHJK', { origin: 'https://evil.example' })
  t.equal(crossSite.statusCode, 403, 'a cross-site post is refused')

  const wrong = await submit('BCDF-GHJK')
  t.equal(wrong.statusCode, 400)
  t.match(wrong.body, /This code is not valid/)
  t.match(wrong.body, /Enter the code shown on your device/, 'a typed code is not presented as one to confirm')
  await submit('not a code')
  const third = await submit('ZZZZ-ZZZZ')
  t.equal(third.statusCode, 400)
  const started = await start(app)
  const locked = await submit(started.user_code)
  t.equal(locked.statusCode, 429, 'locked out, even with a right code')
  t.match(locked.body, /Too many wrong codes/)
  t.ok(Number(locked.headers['retry-after']) > 0)
  t.same(events.map((event) => event.locked), [false, false, true, true], 'each failure is an event; the third starts the lockout')
})

t.test('a poll with a DPoP proof gets DPoP-bound tokens; resource sets aud', async (t) => {
  const api = { resource: 'https://api.example/', name: 'API', scopes: { 'api:read': 'Read the API' } }
  const app = await provider(t, { resourceServers: [api], clients: [{ ...tv, scope: 'openid profile api:read offline_access' }] })
  const started = await start(app, { client_id: 'tv', scope: 'openid api:read offline_access', resource: api.resource })
  await userPart(app, new CookieJar(), started.user_code, 'approve')
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const jwk = await exportJWK(publicKey)
  const proof = await new SignJWT({ jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000), htm: 'POST', htu: `${ISSUER}/token` })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .sign(privateKey)
  const res = await post(app, '/token', { grant_type: deviceCodeGrantType, device_code: started.device_code, client_id: 'tv' }, { dpop: proof })
  t.equal(res.statusCode, 200, res.body)
  const tokens = res.json()
  t.equal(tokens.token_type, 'DPoP')
  const access = decodeJwt(tokens.access_token)
  t.same(access.cnf, { jkt: await calculateJwkThumbprint(jwk) }, 'bound to the proof key')
  t.equal(access.aud, api.resource, 'resource → aud')
  t.equal(tokens.scope, 'api:read')
})

t.test('OIDC Core §3.1.2.1: acr_values asked at the device endpoint give the ID token the default acr, as a code does', async (t) => {
  const app = await provider(t)
  const asked = await start(app, { client_id: 'tv', scope: 'openid', acr_values: 'urn:example:loa:2' })
  await userPart(app, new CookieJar(), asked.user_code, 'approve')
  const res = await poll(app, asked.device_code)
  t.equal(res.statusCode, 200, res.body)
  t.equal(decodeJwt(res.json().id_token).acr, '0', 'defaultAcr: the login stated none')
  const plain = await start(app, { client_id: 'tv', scope: 'openid' })
  await userPart(app, new CookieJar(), plain.user_code, 'approve')
  t.notOk('acr' in decodeJwt((await poll(app, plain.device_code)).json().id_token), 'none asked for, none claimed')
})
