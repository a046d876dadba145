import t, { type Test } from 'tap'
import { MemoryStore } from '../../lib/index.js'
import { sha256 } from '../../lib/tokens/crypto.js'
import { buildApp, ISSUER } from '../helpers/app.js'
import { runCodeFlow, pkcePair, CookieJar, hiddenField } from '../helpers/flow.js'
import { testUsers } from '../helpers/users.js'

const web = {
  client_id: 'web-app',
  client_secret: 'web-app-secret-0123456789',
  redirect_uris: ['https://rp.example.com/cb', 'http://localhost:8080/cb?x=1'],
  grant_types: ['authorization_code', 'refresh_token'] as Array<'authorization_code' | 'refresh_token'>,
  client_name: '<script>alert(1)</script> & Co',
}
const firstParty = { client_id: 'own-app', client_secret: 'own-app-secret-0123456789', redirect_uris: ['https://own.example.com/cb'], first_party: true }

async function setup (t: Test, extra = {}) {
  const store = new MemoryStore()
  const app = await buildApp(t, { store, users: testUsers, clients: [web, firstParty], ...extra })
  return { app, store }
}

function authorizeQuery (overrides: Record<string, string | undefined> = {}): string {
  const { challenge } = pkcePair()
  const params: Record<string, string | undefined> = {
    response_type: 'code', client_id: web.client_id, redirect_uri: web.redirect_uris[0], scope: 'openid profile', code_challenge: challenge, code_challenge_method: 'S256', state: 'st', ...overrides,
  }
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.append(k, v)
  return q.toString()
}

t.test('login + consent issue a code bound to the request; SSO skips both next time', async (t) => {
  const { app, store } = await setup(t)
  const first = await runCodeFlow(app, { clientId: web.client_id, redirectUri: web.redirect_uris[0]!, scope: 'openid profile unknown-scope', state: 'a b&c=d/é', nonce: 'n-1' })
  t.ok(first.sawLogin && first.sawConsent)
  t.equal(first.location.origin + first.location.pathname, 'https://rp.example.com/cb')
  t.equal(first.location.searchParams.get('state'), 'a b&c=d/é', 'state echoed byte-exact')
  t.equal(first.location.searchParams.get('iss'), ISSUER, 'RFC 9207 iss')
  t.match(first.code, /^[A-Za-z0-9_-]{43}$/, '256-bit code')
  const consumed = await store.consumeCode(sha256(first.code!))
  t.equal(consumed.status, 'consumed')
  if (consumed.status === 'consumed') {
    t.equal(consumed.record.clientId, web.client_id)
    t.equal(consumed.record.accountId, 'demo')
    t.equal(consumed.record.scope, 'openid profile')
    t.equal(consumed.record.nonce, 'n-1')
    t.equal(consumed.record.redirectUri, web.redirect_uris[0])
  }

  const second = await runCodeFlow(app, { clientId: web.client_id, redirectUri: web.redirect_uris[0]!, scope: 'openid', jar: first.jar })
  t.notOk(second.sawLogin, 'SSO: no login page')
  t.notOk(second.sawConsent, 'fewer scopes than consented: no consent page')
  t.ok(second.code)

  const wider = await runCodeFlow(app, { clientId: web.client_id, redirectUri: web.redirect_uris[0]!, scope: 'openid profile email', jar: first.jar })
  t.notOk(wider.sawLogin)
  t.ok(wider.sawConsent, 'a new scope asks for consent again')
})

t.test('first-party clients skip consent; redirect_uri with its own query keeps it', async (t) => {
  const { app } = await setup(t)
  const flow = await runCodeFlow(app, { clientId: firstParty.client_id, redirectUri: firstParty.redirect_uris[0]! })
  t.ok(flow.sawLogin)
  t.notOk(flow.sawConsent)
  t.ok(flow.code)
  const withQuery = await runCodeFlow(app, { clientId: web.client_id, redirectUri: web.redirect_uris[1]!, jar: flow.jar })
  t.equal(withQuery.location.searchParams.get('x'), '1')
  t.ok(withQuery.location.searchParams.get('code'))
})

t.test('deny sends access_denied to the redirect_uri', async (t) => {
  const { app } = await setup(t)
  const flow = await runCodeFlow(app, { clientId: web.client_id, redirectUri: web.redirect_uris[0]!, state: 'xyz', consent: 'deny' })
  t.equal(flow.location.searchParams.get('error'), 'access_denied')
  t.equal(flow.location.searchParams.get('state'), 'xyz')
  t.equal(flow.location.searchParams.get('iss'), ISSUER)
  t.equal(flow.code, null)
})

t.test('unknown client or unregistered redirect_uri: an error page, never a redirect', async (t) => {
  const { app } = await setup(t)
  for (const overrides of [
    { client_id: 'nope' },
    { redirect_uri: 'https://attacker.example/cb' },
    { redirect_uri: 'https://rp.example.com/cb/' },
    { redirect_uri: undefined },
    { client_id: undefined },
  ]) {
    const res = await app.inject({ url: `/authorize?${authorizeQuery(overrides)}` })
    t.equal(res.statusCode, 400, JSON.stringify(overrides))
    t.notOk(res.headers.location)
    t.match(res.headers['content-type'], /^text\/html/)
    t.match(res.headers['content-security-policy'], /frame-ancestors 'none'/)
  }
  const repeated = await app.inject({ url: `/authorize?${authorizeQuery()}&client_id=web-app` })
  t.equal(repeated.statusCode, 400)
  t.notOk(repeated.headers.location)
})

t.test('errors after the redirect_uri is trusted go back to it with error, state and iss', async (t) => {
  const { app } = await setup(t)
  const cases: Array<[Record<string, string | undefined>, string]> = [
    [{ response_type: 'code token' }, 'unsupported_response_type'],
    [{ response_type: 'id_token' }, 'unsupported_response_type'],
    [{ response_type: undefined }, 'invalid_request'],
    [{ code_challenge: undefined }, 'invalid_request'],
    [{ code_challenge_method: 'plain' }, 'invalid_request'],
    [{ code_challenge_method: undefined }, 'invalid_request'],
    [{ code_challenge: 'short' }, 'invalid_request'],
    [{ request: 'eyJ.x.y' }, 'request_not_supported'],
    [{ request_uri: 'https://attacker.example/req' }, 'request_uri_not_supported'],
    [{ prompt: 'none login' }, 'invalid_request'],
    [{ prompt: 'none' }, 'login_required'],
    [{ max_age: '-1' }, 'invalid_request'],
    [{ response_mode: 'jwt' }, 'invalid_request'],
  ]
  for (const [overrides, error] of cases) {
    const res = await app.inject({ url: `/authorize?${authorizeQuery(overrides)}` })
    t.equal(res.statusCode, 302, JSON.stringify(overrides))
    const location = new URL(res.headers.location as string)
    t.equal(location.origin + location.pathname, 'https://rp.example.com/cb')
    // Multiple Response Type Encoding Practices §5: a response type naming a token answers in the fragment, even its error.
    const params = /token/.test(overrides.response_type ?? '') ? new URLSearchParams(location.hash.slice(1)) : location.searchParams
    t.equal(params.get('error'), error, JSON.stringify(overrides))
    t.ok(params.get('error_description'))
    t.equal(params.get('state'), 'st')
    t.equal(params.get('iss'), ISSUER)
  }
  const repeated = await app.inject({ url: `/authorize?${authorizeQuery()}&scope=email` })
  t.equal(new URL(repeated.headers.location as string).searchParams.get('error'), 'invalid_request')
})

t.test('the login page: escaped client name, security headers, one message for bad credentials', async (t) => {
  const { app } = await setup(t)
  const res = await app.inject({ url: `/authorize?${authorizeQuery({ login_hint: '"><img src=x>' })}` })
  t.equal(res.statusCode, 200)
  t.notMatch(res.body, /<script>alert/)
  t.match(res.body, /&lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; Co/)
  t.notMatch(res.body, /"><img/)
  t.match(res.headers['content-security-policy'], /default-src 'none'/)
  t.match(res.headers['content-security-policy'], /form-action 'self' https:\/\/rp\.example\.com/)
  t.equal(res.headers['x-frame-options'], 'DENY')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['referrer-policy'], 'same-origin')
  t.equal(res.headers['cache-control'], 'no-store')
  const jar = new CookieJar()
  jar.update(res)
  const fields = { interaction_id: hiddenField(res.body, 'interaction_id'), csrf_token: hiddenField(res.body, 'csrf_token') }
  const post = (extra: Record<string, string>, cookie = jar.header()) => app.inject({
    method: 'POST', url: '/authorize', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, payload: new URLSearchParams({ ...fields, ...extra }).toString(),
  })
  const wrong = await post({ username: 'demo', password: 'nope' })
  const unknown = await post({ username: 'nobody', password: 'nope' })
  t.equal(wrong.statusCode, 401)
  t.equal(unknown.statusCode, 401)
  t.match(wrong.body, /Invalid username or password/)
  t.match(unknown.body, /Invalid username or password/)
  t.notOk(wrong.headers['set-cookie']?.toString().includes('oidc_session='), 'no session on failure')

  const foreignCsrf = await post({ username: 'demo', password: 'demo', csrf_token: 'forged' })
  t.equal(foreignCsrf.statusCode, 403)
  const noBrowserCookie = await post({ username: 'demo', password: 'demo' }, '')
  t.equal(noBrowserCookie.statusCode, 403)

  const ok = await post({ username: 'demo', password: 'demo' })
  t.equal(ok.statusCode, 303)
  const sessionCookie = ok.cookies.find((cookie) => cookie.name === 'oidc_session')
  t.ok(sessionCookie)
  t.equal(sessionCookie?.httpOnly, true)
  t.equal(sessionCookie?.sameSite, 'Lax')
})

t.test('login sessions are renewed at login (no fixation)', async (t) => {
  const { app } = await setup(t)
  const first = await runCodeFlow(app, { clientId: firstParty.client_id, redirectUri: firstParty.redirect_uris[0]! })
  const before = first.jar.cookies.get('oidc_session')
  const again = await runCodeFlow(app, { clientId: firstParty.client_id, redirectUri: firstParty.redirect_uris[0]!, jar: first.jar, extra: { prompt: 'login' } })
  t.ok(again.sawLogin, 'prompt=login shows the login page despite the session')
  t.not(again.jar.cookies.get('oidc_session'), before, 'a new session id')
})

t.test('prompt=none: a code with a session and a grant, consent_required without the grant', async (t) => {
  const { app } = await setup(t)
  const first = await runCodeFlow(app, { clientId: firstParty.client_id, redirectUri: firstParty.redirect_uris[0]! })
  const silent = await runCodeFlow(app, { clientId: firstParty.client_id, redirectUri: firstParty.redirect_uris[0]!, jar: first.jar, extra: { prompt: 'none' } })
  t.ok(silent.code)
  const noConsent = await runCodeFlow(app, { clientId: web.client_id, redirectUri: web.redirect_uris[0]!, jar: first.jar, extra: { prompt: 'none' } })
  t.equal(noConsent.location.searchParams.get('error'), 'consent_required')
})

t.test('a consent cannot be replayed, nor posted by another user', async (t) => {
  const { app } = await setup(t)
  const jar = new CookieJar()
  const res = await app.inject({ url: `/authorize?${authorizeQuery()}` })
  jar.update(res)
  const fields = { interaction_id: hiddenField(res.body, 'interaction_id'), csrf_token: hiddenField(res.body, 'csrf_token') }
  const login = await app.inject({ method: 'POST', url: '/authorize', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() }, payload: new URLSearchParams({ ...fields, username: 'demo', password: 'demo' }).toString() })
  jar.update(login)
  t.equal(login.statusCode, 303)
  const consentPage = await app.inject({ url: login.headers.location as string, headers: { cookie: jar.header() } })
  t.equal(consentPage.statusCode, 200)
  t.match(consentPage.body, /Allow/)
  // The consent is an interaction of its own (each step is single use): the login's is gone.
  t.not(hiddenField(consentPage.body, 'interaction_id'), fields.interaction_id)
  const replayedLogin = await app.inject({ method: 'POST', url: '/authorize', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() }, payload: new URLSearchParams({ ...fields, username: 'demo', password: 'demo' }).toString() })
  t.equal(replayedLogin.statusCode, 400, 'the login form cannot be posted twice')
  fields.interaction_id = hiddenField(consentPage.body, 'interaction_id')
  fields.csrf_token = hiddenField(consentPage.body, 'csrf_token')

  // Another browser (alice's session) cannot use demo's consent request.
  const alice = await runCodeFlow(app, { clientId: firstParty.client_id, redirectUri: firstParty.redirect_uris[0]!, username: 'alice', password: 'wonderland' })
  const foreign = await app.inject({ method: 'POST', url: '/consent', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: alice.jar.header() }, payload: new URLSearchParams({ ...fields, decision: 'approve' }).toString() })
  t.equal(foreign.statusCode, 403)

  const approve = () => app.inject({ method: 'POST', url: '/consent', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() }, payload: new URLSearchParams({ ...fields, decision: 'approve' }).toString() })
  const [a, b] = await Promise.all([approve(), approve()])
  const statuses = [a.statusCode, b.statusCode].sort()
  t.same(statuses, [303, 400], 'exactly one of two concurrent approvals wins')
})

t.test('login brute force: locked after the threshold, even with the right password', async (t) => {
  const { app } = await setup(t, { rateLimit: { loginFailures: 3, loginWindow: 60 } })
  const res = await app.inject({ url: `/authorize?${authorizeQuery()}` })
  const jar = new CookieJar()
  jar.update(res)
  const fields = { interaction_id: hiddenField(res.body, 'interaction_id'), csrf_token: hiddenField(res.body, 'csrf_token') }
  const post = (password: string) => app.inject({ method: 'POST', url: '/authorize', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() }, payload: new URLSearchParams({ ...fields, username: 'demo', password }).toString() })
  for (let i = 0; i < 3; i++) t.equal((await post('bad')).statusCode, 401)
  const locked = await post('demo')
  t.equal(locked.statusCode, 429)
  t.ok(Number(locked.headers['retry-after']) > 0)
  t.match(locked.body, /Too many failed sign-in attempts/)
})

t.test('nonce replay: the same nonce twice for one client is refused', async (t) => {
  const { app } = await setup(t)
  const first = await runCodeFlow(app, { clientId: firstParty.client_id, redirectUri: firstParty.redirect_uris[0]!, nonce: 'once' })
  t.ok(first.code)
  const replay = await runCodeFlow(app, { clientId: firstParty.client_id, redirectUri: firstParty.redirect_uris[0]!, nonce: 'once', jar: first.jar })
  t.equal(replay.location.searchParams.get('error'), 'invalid_request')
})

t.test('POST /authorize carries the authorization request too (OIDC Core §3.1.2.1)', async (t) => {
  const { app } = await setup(t)
  const res = await app.inject({ method: 'POST', url: '/authorize', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: authorizeQuery() })
  t.equal(res.statusCode, 200)
  t.match(res.body, /name="password"/)
  const json = await app.inject({ method: 'POST', url: '/authorize', headers: { 'content-type': 'application/json' }, payload: '{}' })
  t.equal(json.statusCode, 415)
  t.match(json.headers['content-type'], /text\/html/)
})

t.test('app.oidc.endAccountSessions logs the user out of every browser', async (t) => {
  const { app } = await setup(t)
  const demo = await runCodeFlow(app, { clientId: firstParty.client_id, redirectUri: firstParty.redirect_uris[0]! })
  const demoElsewhere = await runCodeFlow(app, { clientId: firstParty.client_id, redirectUri: firstParty.redirect_uris[0]! })
  const alice = await runCodeFlow(app, { clientId: firstParty.client_id, redirectUri: firstParty.redirect_uris[0]!, username: 'alice', password: 'wonderland' })
  t.equal(await app.oidc.endAccountSessions('demo'), 2, 'both of demo\'s browsers')
  for (const jar of [demo.jar, demoElsewhere.jar]) {
    const silent = await runCodeFlow(app, { clientId: firstParty.client_id, redirectUri: firstParty.redirect_uris[0]!, jar, extra: { prompt: 'none' } })
    t.equal(silent.location.searchParams.get('error'), 'login_required')
  }
  const stillAlice = await runCodeFlow(app, { clientId: firstParty.client_id, redirectUri: firstParty.redirect_uris[0]!, jar: alice.jar, extra: { prompt: 'none' } })
  t.ok(stillAlice.code, 'other users keep their sessions')
})
