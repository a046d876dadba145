import t, { type Test } from 'tap'
import { decodeJwt } from 'jose'
import { MemoryStore } from '../../lib/index.js'
import { buildApp } from '../helpers/app.js'
import { runCodeFlow, type FlowResult } from '../helpers/flow.js'
import { testUsers } from '../helpers/users.js'

const client = { client_id: 'rp', client_secret: 'rp-secret-0123456789abcdef', redirect_uris: ['https://rp.example.com/cb'], first_party: true }
const other = { client_id: 'other', client_secret: 'other-secret-0123456789abc', redirect_uris: ['https://other.example.com/cb'], first_party: true }

async function setup (t: Test) {
  const store = new MemoryStore()
  const app = await buildApp(t, { store, users: testUsers, clients: [client, other] })
  return { app, store }
}

async function exchange (app: Awaited<ReturnType<typeof setup>>['app'], flow: FlowResult, c = client): Promise<{ id_token: string, access_token: string }> {
  const res = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'authorization_code', code: flow.code!, redirect_uri: c.redirect_uris[0]!, code_verifier: flow.verifier, client_id: c.client_id, client_secret: c.client_secret }).toString(),
  })
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.json()
}

const base = { clientId: client.client_id, redirectUri: client.redirect_uris[0]! }

t.test('max_age: an old session must log in again; auth_time is in the id_token', async (t) => {
  const { app } = await setup(t)
  const first = await runCodeFlow(app, base)
  const firstTokens = await exchange(app, first)
  const authTime = decodeJwt(firstTokens.id_token).auth_time as number
  t.ok(authTime)

  const fresh = await runCodeFlow(app, { ...base, jar: first.jar, extra: { max_age: '3600' } })
  t.notOk(fresh.sawLogin, 'a session younger than max_age is enough')
  t.equal(decodeJwt((await exchange(app, fresh)).id_token).auth_time, authTime)

  await new Promise((resolve) => setTimeout(resolve, 1100))
  const old = await runCodeFlow(app, { ...base, jar: first.jar, extra: { max_age: '0' } })
  t.ok(old.sawLogin, 'max_age=0 forces a new login')
  const newAuthTime = decodeJwt((await exchange(app, old)).id_token).auth_time as number
  t.ok(newAuthTime > authTime, 'a new auth_time after re-authentication')

  const silent = await runCodeFlow(app, { ...base, jar: first.jar, extra: { max_age: '0', prompt: 'none' } })
  t.equal(silent.location.searchParams.get('error'), 'login_required')
})

t.test('id_token_hint: verified with our keys; another user or a forged hint never yields a code', async (t) => {
  const { app } = await setup(t)
  const demo = await runCodeFlow(app, base)
  const demoIdToken = (await exchange(app, demo)).id_token
  const alice = await runCodeFlow(app, { ...base, username: 'alice', password: 'wonderland' })
  const aliceIdToken = (await exchange(app, alice)).id_token

  const same = await runCodeFlow(app, { ...base, jar: demo.jar, extra: { prompt: 'none', id_token_hint: demoIdToken } })
  t.ok(same.code, 'a hint for the logged-in user: code')

  const mismatch = await runCodeFlow(app, { ...base, jar: demo.jar, extra: { prompt: 'none', id_token_hint: aliceIdToken } })
  t.equal(mismatch.location.searchParams.get('error'), 'login_required', 'a hint for another user: no code for the current one')

  const wrongLogin = await runCodeFlow(app, { ...base, jar: demo.jar, extra: { id_token_hint: aliceIdToken } })
  t.ok(wrongLogin.sawLogin, 'the hinted user must log in')
  t.equal(wrongLogin.location.searchParams.get('error'), 'login_required', 'demo logging in for a hint about alice gets no code')

  const [h, p] = demoIdToken.split('.')
  const forged = `${h}.${p}.${Buffer.from('forged').toString('base64url')}`
  const bad = await runCodeFlow(app, { ...base, jar: demo.jar, extra: { prompt: 'none', id_token_hint: forged } })
  t.equal(bad.location.searchParams.get('error'), 'invalid_request')
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`
  const alg = await runCodeFlow(app, { ...base, jar: demo.jar, extra: { prompt: 'none', id_token_hint: none } })
  t.equal(alg.location.searchParams.get('error'), 'invalid_request')

  const otherClient = await runCodeFlow(app, { clientId: other.client_id, redirectUri: other.redirect_uris[0]!, jar: demo.jar, extra: { prompt: 'none', id_token_hint: demoIdToken } })
  t.equal(otherClient.location.searchParams.get('error'), 'invalid_request', 'a hint issued to another client is refused')
})

t.test('prompt=consent shows consent again even for a granted client; display & co are ignored; empty params are absent', async (t) => {
  const store = new MemoryStore()
  const thirdParty = { ...client, client_id: 'third', first_party: false }
  const app = await buildApp(t, { store, users: testUsers, clients: [thirdParty] })
  const first = await runCodeFlow(app, { clientId: 'third', redirectUri: thirdParty.redirect_uris[0]!, extra: { display: 'popup', ui_locales: 'fr-CA fr', claims_locales: 'fr', acr_values: 'urn:x', something_unknown: 'x', state: '', nonce: '' } })
  t.ok(first.sawConsent)
  t.ok(first.code)
  t.notOk(first.location.searchParams.has('state'), 'an empty state is treated as absent')
  const again = await runCodeFlow(app, { clientId: 'third', redirectUri: thirdParty.redirect_uris[0]!, jar: first.jar, extra: { prompt: 'consent' } })
  t.ok(again.sawConsent)
  t.notOk(again.sawLogin)
})

t.test('login_hint pre-fills the username, escaped', async (t) => {
  const { app } = await setup(t)
  const res = await app.inject({ url: `/authorize?${new URLSearchParams({ response_type: 'code', client_id: 'rp', redirect_uri: client.redirect_uris[0]!, scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', login_hint: 'bob"<b>' })}` })
  t.match(res.body, /value="bob&quot;&lt;b&gt;"/)
})

t.test('CR/LF in state is refused, never reflected into a header', async (t) => {
  const { app } = await setup(t)
  const res = await app.inject({ url: `/authorize?${new URLSearchParams({ response_type: 'code', client_id: 'rp', redirect_uri: client.redirect_uris[0]!, scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 'a\r\nSet-Cookie: x=1' })}` })
  t.equal(res.statusCode, 302)
  const location = new URL(res.headers.location as string)
  t.equal(location.searchParams.get('error'), 'invalid_request')
  t.notOk(location.searchParams.has('state'))
  t.notOk(res.headers['set-cookie']?.toString().includes('x=1'))
})
