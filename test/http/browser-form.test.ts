import t, { type Test } from 'tap'
import { MemoryStore } from '../../lib/index.js'
import { buildApp, ISSUER } from '../helpers/app.js'
import { CookieJar, hiddenField, pkcePair } from '../helpers/flow.js'
import { testUsers } from '../helpers/users.js'
import type { SecurityEvents } from '../../lib/contracts/events.js'

const client = { client_id: 'web-app', client_secret: 'web-app-secret-0123456789', redirect_uris: ['https://rp.example.com/cb'] }
const evil = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }

async function setup (t: Test) {
  const store = new MemoryStore()
  const app = await buildApp(t, { store, users: testUsers, clients: [client] })
  const refused: Array<SecurityEvents['form.cross_site']> = []
  const logins: string[] = []
  app.oidc.on('form.cross_site', (event) => refused.push(event))
  app.oidc.on('login.success', (event) => logins.push(event.accountId))
  app.oidc.on('login.failure', (event) => logins.push(`failure:${event.username}`))
  return { app, store, refused, logins }
}

/** Opens the login page; returns the jar and the form's hidden fields. */
async function loginPage (app: Awaited<ReturnType<typeof setup>>['app'], jar = new CookieJar()) {
  const { challenge } = pkcePair()
  const query = new URLSearchParams({ response_type: 'code', client_id: client.client_id, redirect_uri: client.redirect_uris[0]!, scope: 'openid', state: 's', code_challenge: challenge, code_challenge_method: 'S256' })
  const res = await app.inject({ url: `/authorize?${query}`, headers: { cookie: jar.header() } })
  jar.update(res)
  return { jar, fields: { interaction_id: hiddenField(res.body, 'interaction_id'), csrf_token: hiddenField(res.body, 'csrf_token') } }
}

async function post (app: Awaited<ReturnType<typeof setup>>['app'], url: string, jar: CookieJar, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await app.inject({
    method: 'POST',
    url,
    payload: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header(), ...headers },
  })
  jar.update(res)
  return res
}

/** Logs in with the right password (same-origin headers) and returns the consent form's fields. */
async function consentPage (app: Awaited<ReturnType<typeof setup>>['app']) {
  const { jar, fields } = await loginPage(app)
  const login = await post(app, '/authorize', jar, { ...fields, username: 'demo', password: 'demo' }, { origin: ISSUER, 'sec-fetch-site': 'same-origin' })
  const page = await app.inject({ url: login.headers.location as string, headers: { cookie: jar.header() } })
  return { jar, fields: { interaction_id: hiddenField(page.body, 'interaction_id'), csrf_token: hiddenField(page.body, 'csrf_token') } }
}

for (const [name, headers] of Object.entries<Record<string, string>>({
  'Origin and Sec-Fetch-Site both cross-site': evil,
  'only Sec-Fetch-Site: cross-site': { 'sec-fetch-site': 'cross-site' },
  'only a foreign Origin': { origin: 'https://evil.example' },
  'Origin: null': { origin: 'null' },
  'an Origin that differs by port': { origin: 'http://localhost:3001' },
})) {
  t.test(`login POST refused with ${name}: 403 page, nothing recorded`, async (t) => {
    const { app, store, refused, logins } = await setup(t)
    const { jar, fields } = await loginPage(app)
    const res = await post(app, '/authorize', jar, { ...fields, username: 'demo', password: 'demo' }, headers)
    t.equal(res.statusCode, 403)
    t.match(res.headers['content-type'], /^text\/html/)
    t.match(res.body, /another site/)
    t.notOk(res.headers['set-cookie']?.toString().includes('oidc_session='), 'no session cookie')
    t.same(logins, [], 'no login attempt was made')
    t.equal(refused.length, 1, 'a security event')
    t.equal(refused[0]!.path, '/authorize')
    t.ok(await store.getInteraction(fields.interaction_id), 'the interaction is untouched')
  })
}

t.test('consent POST refused cross-site: no code, the consent stays pending', async (t) => {
  const { app, store, refused } = await setup(t)
  const { jar, fields } = await consentPage(app)
  const res = await post(app, '/consent', jar, { ...fields, decision: 'approve' }, evil)
  t.equal(res.statusCode, 403)
  t.equal(res.headers.location, undefined, 'no redirect with a code')
  t.equal(refused.length, 1)
  t.equal(refused[0]!.reason, 'sec-fetch-site')
  t.equal(refused[0]!.origin, 'https://evil.example')
  t.ok(await store.getInteraction(fields.interaction_id), 'not consumed')
  t.equal(await store.findGrant('demo', client.client_id), undefined, 'no grant recorded')
})

t.test('same-origin posts and posts without these headers keep working', async (t) => {
  const { app, refused } = await setup(t)
  const same = await consentPage(app)
  const approved = await post(app, '/consent', same.jar, { ...same.fields, decision: 'approve' }, { origin: ISSUER, 'sec-fetch-site': 'same-origin' })
  t.equal(approved.statusCode, 303)
  t.ok(new URL(approved.headers.location as string).searchParams.get('code'))

  const { jar, fields } = await loginPage(app)
  const bare = await post(app, '/authorize', jar, { ...fields, username: 'demo', password: 'demo' })
  t.equal(bare.statusCode, 303, 'no Origin, no Sec-Fetch-Site (curl, old browsers): allowed')
  const sameSite = await loginPage(app)
  const none = await post(app, '/authorize', sameSite.jar, { ...sameSite.fields, username: 'demo', password: 'demo' }, { 'sec-fetch-site': 'same-site', origin: ISSUER })
  t.equal(none.statusCode, 303, 'same-site with our Origin is fine')
  const nullOrigin = await loginPage(app)
  const opaque = await post(app, '/authorize', nullOrigin.jar, { ...nullOrigin.fields, username: 'demo', password: 'demo' }, { 'sec-fetch-site': 'same-origin', origin: 'null' })
  t.equal(opaque.statusCode, 303, 'Origin: null vouched same-origin by Fetch Metadata (a no-referrer page) is fine')
  t.same(refused, [])
})

t.test('an authorization request POSTed by a relying party (cross-site by nature) is not refused', async (t) => {
  const { app, refused } = await setup(t)
  const { challenge } = pkcePair()
  const res = await post(app, '/authorize', new CookieJar(), {
    response_type: 'code', client_id: client.client_id, redirect_uri: client.redirect_uris[0]!, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256',
  }, { origin: 'https://rp.example.com', 'sec-fetch-site': 'cross-site' })
  t.equal(res.statusCode, 200)
  // Without our (SameSite=Lax) session cookie on the cross-site POST, our page posts the same
  // request again from our origin, so a signed-in user's session comes with it.
  t.match(res.body, /name="oidc_reposted" value="1"/, 'posted again from our own origin')
  const fields = Object.fromEntries([...res.body.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((match) => [match[1]!, match[2]!]))
  const again = await post(app, '/authorize', new CookieJar(), fields, { origin: ISSUER, 'sec-fetch-site': 'same-origin' })
  t.equal(again.statusCode, 200)
  t.match(again.body, /name="password"/, 'then the login page')
  t.same(refused, [])
})
