import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import formbody from '@fastify/formbody'
import { MemoryStore, oidcProvider, type InteractionResult, type OidcProviderOptions } from '../../lib/index.js'
import { testKeys } from '../helpers/keys.js'
import { testUsers } from '../helpers/users.js'
import { CookieJar, pkcePair } from '../helpers/flow.js'
import { basic, jwtClaims } from '../helpers/codes.js'
import { deleteKeys, requireRedis, testPrefix } from '../helpers/redis.js'
import { RedisStore, type Store } from '../../lib/index.js'
import type { ClientRecord, GrantRecord, SessionRecord } from '../../lib/contracts/store.js'
import { sha256 } from '../../lib/tokens/crypto.js'

const ISSUER = 'http://localhost:3000'
const client = {
  client_id: 'web-app',
  client_secret: 'web-app-secret-0123456789',
  redirect_uris: ['https://rp.example.com/cb'],
  client_name: 'Web App',
  policy_uri: 'https://rp.example.com/privacy',
  grant_types: ['authorization_code', 'refresh_token'] as Array<'authorization_code' | 'refresh_token'>,
}

/**
 * A host with its own interaction routes: GET /host shows the interaction as JSON, POST
 * /host/finish finishes it with the JSON result in the form's `result` field.
 */
async function hostApp (t: Test, options: Partial<OidcProviderOptions> = {}, logLines?: string[]) {
  const store: Store = options.store ?? new MemoryStore()
  if (options.store === undefined) t.teardown(() => store.close?.())
  const app = Fastify({ logger: logLines === undefined ? false : { level: 'warn', stream: { write: (line: string) => { logLines.push(line) } } } })
  await app.register(formbody)
  await app.register(oidcProvider, {
    issuer: ISSUER,
    keys: testKeys(),
    cookieSecret: 'x'.repeat(32),
    store,
    users: testUsers,
    clients: [client, { client_id: 'service', client_secret: 'service-secret-0123456789', grant_types: ['client_credentials'], scope: 'api.read' }],
    scopes: ['openid', 'profile', 'email', 'api.read'],
    rateLimit: { loginFailures: 3 },
    interactions: { url: (interaction) => `/host?interaction_id=${interaction.id}` },
    ...options,
  })
  app.get('/host', async (request) => await app.oidc.getInteraction(request))
  app.post('/host/finish', async (request, reply) => {
    const body = request.body as Record<string, string>
    return await app.oidc.finishInteraction(request, reply, JSON.parse(body.result!) as InteractionResult)
  })
  app.post('/host/password', async (request) => {
    const body = request.body as Record<string, string>
    return await app.oidc.checkPassword(request, body.username!, body.password!)
  })
  await app.ready()
  t.teardown(() => app.close())
  return { app, store }
}

function authorizeUrl (extra: Record<string, string> = {}): { url: string, verifier: string } {
  const { verifier, challenge } = pkcePair()
  const query = new URLSearchParams({
    response_type: 'code', client_id: client.client_id, redirect_uri: client.redirect_uris[0]!, scope: 'openid profile email', state: 'st-9', nonce: `n-${Math.random()}`, code_challenge: challenge, code_challenge_method: 'S256', ...extra,
  })
  return { url: `/authorize?${query}`, verifier }
}

/** Starts a flow: /authorize must redirect to the host's route; returns the interaction. */
async function start (app: FastifyInstance, jar = new CookieJar(), extra: Record<string, string> = {}) {
  const { url, verifier } = authorizeUrl(extra)
  const res = await app.inject({ url, headers: { cookie: jar.header() } })
  jar.update(res)
  const location = res.headers.location as string
  const shown = await app.inject({ url: location, headers: { cookie: jar.header() } })
  return { res, location, jar, verifier, shown, interaction: shown.json() as { id: string, csrfToken: string, prompt: string } & Record<string, unknown> }
}

async function finish (app: FastifyInstance, jar: CookieJar, interaction: { id: string, csrfToken: string }, result: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const res = await app.inject({
    method: 'POST',
    url: '/host/finish',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header(), ...headers },
    payload: new URLSearchParams({ interaction_id: interaction.id, csrf_token: interaction.csrfToken, result: JSON.stringify(result) }).toString(),
  })
  jar.update(res)
  return res
}

async function exchange (app: FastifyInstance, location: string, verifier: string) {
  const code = new URL(location).searchParams.get('code')!
  const res = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.client_id, client.client_secret) },
    payload: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: client.redirect_uris[0]!, code_verifier: verifier }).toString(),
  })
  return res.json() as { access_token: string, id_token: string, scope: string, refresh_token?: string }
}

t.test('/authorize sends the browser to the host route; getInteraction describes what is needed', async (t) => {
  const { app } = await hostApp(t)
  const { res, location, shown, interaction } = await start(app, new CookieJar(), { login_hint: 'alice', ui_locales: 'fr-CA de', acr_values: 'urn:mace:incommon:iap:silver', max_age: '600', claims: '{"id_token":{"email":{"essential":true}}}' })
  t.equal(res.statusCode, 302)
  t.match(location, /^\/host\?interaction_id=[\w-]+$/)
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(shown.statusCode, 200)
  t.match(interaction, {
    prompt: 'login',
    client: { clientId: 'web-app', clientName: 'Web App', policyUri: 'https://rp.example.com/privacy' },
    scopes: [
      { name: 'openid', description: 'Vous connecter avec votre compte', claims: [] },
      { name: 'profile' },
      { name: 'email', claims: ['email', 'email_verified'] },
    ],
    loginHint: 'alice',
    uiLocales: ['fr-CA', 'de'],
    locale: 'fr',
    acrValues: ['urn:mace:incommon:iap:silver'],
    maxAge: 600,
    claims: { id_token: { email: { essential: true } } },
    prompts: [],
  })
  t.notOk('client_secret' in (interaction.client as object), 'only public metadata')
  t.equal(interaction.account, undefined)
})

t.test('the interaction is bound to the browser that started it', async (t) => {
  const { app } = await hostApp(t)
  const { location, interaction } = await start(app)
  const noCookie = await app.inject({ url: location })
  t.equal(noCookie.statusCode, 403)
  const other = await start(app)
  const otherBrowser = await app.inject({ url: location, headers: { cookie: other.jar.header() } })
  t.equal(otherBrowser.statusCode, 403, "another browser's cookie does not open it")
  const stolen = await finish(app, other.jar, interaction, { login: { accountId: 'demo' } })
  t.equal(stolen.statusCode, 403, 'nor finish it')
})

t.test('finishing is single use, and a form post needs its CSRF token and our origin', async (t) => {
  const { app } = await hostApp(t)
  const { jar, interaction } = await start(app)
  const noToken = await finish(app, jar, { ...interaction, csrfToken: 'wrong' }, { login: { accountId: 'demo' } })
  t.equal(noToken.statusCode, 403)
  const crossSite = await finish(app, jar, interaction, { login: { accountId: 'demo' } }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })
  t.equal(crossSite.statusCode, 403)
  const [a, b] = await Promise.all([
    finish(app, jar, interaction, { login: { accountId: 'demo' } }, { origin: ISSUER }),
    finish(app, jar, interaction, { login: { accountId: 'demo' } }, { origin: ISSUER }),
  ])
  t.same([a.statusCode, b.statusCode].sort(), [303, 400], 'one of two concurrent finishes wins')
  const again = await finish(app, jar, interaction, { login: { accountId: 'demo' } })
  t.equal(again.statusCode, 400, 'and it cannot be finished again')
})

t.test('an interaction expires', async (t) => {
  const { app, store } = await hostApp(t)
  const { jar, location, interaction } = await start(app)
  const record = await store.getInteraction(interaction.id)
  await store.saveInteraction({ ...record!, expiresAt: Math.floor(Date.now() / 1000) - 1 })
  const shown = await app.inject({ url: location, headers: { cookie: jar.header() } })
  t.equal(shown.statusCode, 400)
  t.match(shown.json(), { message: /expired/ })
  const finished = await finish(app, jar, interaction, { login: { accountId: 'demo' } })
  t.equal(finished.statusCode, 400)
})

t.test('finishing with access_denied redirects the error with state and iss', async (t) => {
  const { app } = await hostApp(t)
  const { jar, interaction } = await start(app)
  const res = await finish(app, jar, interaction, { error: 'access_denied' })
  t.equal(res.statusCode, 303)
  const location = new URL(res.headers.location as string)
  t.equal(location.origin + location.pathname, 'https://rp.example.com/cb')
  t.equal(location.searchParams.get('error'), 'access_denied')
  t.equal(location.searchParams.get('state'), 'st-9')
  t.equal(location.searchParams.get('iss'), ISSUER)
  t.ok(location.searchParams.get('error_description'))
  t.equal(location.searchParams.get('code'), null)

  const second = await start(app, jar)
  const custom = await finish(app, jar, second.interaction, { error: 'login_required', description: 'no account picked' })
  t.equal(new URL(custom.headers.location as string).searchParams.get('error'), 'login_required')
  const third = await start(app, jar)
  const bogus = await finish(app, jar, third.interaction, { error: 'invalid_grant' })
  t.equal(bogus.statusCode, 500, 'an error code an interaction cannot end with is a host bug')
})

t.test('a login: new session id each time, then consent on the host, auth_time/acr/amr in the ID token', async (t) => {
  const { app, store } = await hostApp(t)
  const { jar, interaction, verifier } = await start(app)
  const login = await finish(app, jar, interaction, { login: { accountId: 'alice', acr: 'urn:example:mfa', amr: ['pwd', 'otp'] } })
  t.equal(login.statusCode, 303)
  t.match(login.headers.location, /^\/host\?interaction_id=/, 'consent is needed: back to the host')
  const firstSession = jar.cookies.get('oidc_session')
  t.ok(firstSession)
  const consentView = await app.inject({ url: login.headers.location as string, headers: { cookie: jar.header() } })
  const bidOnly = new CookieJar()
  bidOnly.cookies.set('oidc_session.bid', jar.cookies.get('oidc_session.bid')!)
  t.equal((await app.inject({ url: login.headers.location as string, headers: { cookie: bidOnly.header() } })).statusCode, 403, 'a consent is shown only with the session of the user it is for')
  const consent = consentView.json() as { id: string, csrfToken: string, prompt: string, account: Record<string, unknown> }
  t.equal(consent.prompt, 'consent')
  t.not(consent.id, interaction.id, 'the consent is a new interaction')
  t.match(consent.account, { accountId: 'alice', acr: 'urn:example:mfa', amr: ['pwd', 'otp'] })
  t.equal(typeof consent.account.authTime, 'number')
  const loginResultOnConsent = await finish(app, jar, consent, { consent: { scopes: ['openid', 'email', 'not-requested'] } })
  t.equal(loginResultOnConsent.statusCode, 303)
  const tokens = await exchange(app, loginResultOnConsent.headers.location as string, verifier)
  t.equal(tokens.scope, 'openid email', 'fewer scopes granted, never more')
  const id = jwtClaims(tokens.id_token)
  t.match(id, { sub: 'alice', acr: 'urn:example:mfa', amr: ['pwd', 'otp'], email: 'alice@example.com' })
  t.equal(id.name, undefined, 'profile was not granted')
  t.equal(typeof id.auth_time, 'number')
  // OpenID Connect Core §12.2: an ID token from a refresh states the original authentication.
  const refreshed = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.client_id, client.client_secret) },
    payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }).toString(),
  })
  t.equal(refreshed.statusCode, 200)
  const refreshedId = jwtClaims((refreshed.json() as { id_token: string }).id_token)
  t.match(refreshedId, { sub: 'alice', acr: 'urn:example:mfa', amr: ['pwd', 'otp'], auth_time: id.auth_time, sid: id.sid })
  t.equal(refreshedId.nonce, undefined, 'no nonce at refresh')

  // SSO keeps acr/amr; a second login gets a new session id and ends the old one.
  const again = await start(app, jar, { prompt: 'login', scope: 'openid email' })
  t.equal(again.interaction.prompt, 'login')
  const relogin = await finish(app, jar, again.interaction, { login: { accountId: 'alice', amr: ['pwd'], remember: false } })
  t.equal(relogin.statusCode, 303)
  t.match(relogin.headers.location, /^https:\/\/rp\.example\.com\/cb\?code=/, 'the earlier consent covers it: straight to the client')
  const sessionCookie = relogin.cookies.find((cookie) => cookie.name === 'oidc_session')
  t.ok(sessionCookie)
  t.equal(sessionCookie!.maxAge, undefined, 'remember: false makes a browser-session cookie')
  t.not(jar.cookies.get('oidc_session'), firstSession, 'a new session id at every login')
  const sessionIds = [firstSession!, jar.cookies.get('oidc_session')!].map((value) => decodeURIComponent(value).replace(/\.[^.]+$/, ''))
  t.equal(await store.getSession(sessionIds[0]!), undefined, 'the old session is ended')
  t.ok(await store.getSession(sessionIds[1]!))
  const second = jwtClaims((await exchange(app, relogin.headers.location as string, again.verifier)).id_token)
  t.same(second.amr, ['pwd'])
  t.equal(second.acr, undefined)
})

t.test('an interaction saved before prompts were recorded (rolling upgrade) keeps its meaning', async (t) => {
  const { app, store } = await hostApp(t)
  const { jar, interaction, verifier } = await start(app)
  const login = await finish(app, jar, interaction, { login: { accountId: 'demo' } })
  const consentId = new URL(login.headers.location as string, ISSUER).searchParams.get('interaction_id')!
  const { prompt, ...legacy } = (await store.getInteraction(consentId))!
  t.equal(prompt, 'consent')
  await store.saveInteraction(legacy)
  const view = (await app.inject({ url: login.headers.location as string, headers: { cookie: jar.header() } })).json() as { prompt: string, id: string, csrfToken: string }
  t.equal(view.prompt, 'consent')
  const done = await finish(app, jar, view, { consent: {} })
  t.ok((await exchange(app, done.headers.location as string, verifier)).access_token)
})

t.test('a login may carry the consent too (one host page for both)', async (t) => {
  const { app } = await hostApp(t)
  const { jar, interaction, verifier } = await start(app)
  const res = await finish(app, jar, interaction, { login: { accountId: 'demo' }, consent: { scopes: ['openid'] } })
  t.match(res.headers.location, /^https:\/\/rp\.example\.com\/cb\?code=/)
  t.equal((await exchange(app, res.headers.location as string, verifier)).scope, 'openid')
  const bad = await start(app, jar, { prompt: 'login' })
  t.equal((await finish(app, jar, bad.interaction, { consent: {} })).statusCode, 500, 'a consent on a login interaction is a host bug')
  const worse = await start(app, jar, { prompt: 'login' })
  t.equal((await finish(app, jar, worse.interaction, { login: { accountId: '' } })).statusCode, 500)
})

t.test('prompt=none with a host login configured answers without any page', async (t) => {
  const { app } = await hostApp(t)
  const { url } = authorizeUrl({ prompt: 'none' })
  const res = await app.inject({ url })
  t.equal(res.statusCode, 302)
  const location = new URL(res.headers.location as string)
  t.equal(location.origin, 'https://rp.example.com', 'straight back to the client, not to the host page')
  t.equal(location.searchParams.get('error'), 'login_required')
  t.equal(location.searchParams.get('state'), 'st-9')
  t.equal(location.searchParams.get('iss'), ISSUER)

  // Signed in but no consent yet: consent_required, still no page.
  const { jar, interaction } = await start(app)
  await finish(app, jar, interaction, { login: { accountId: 'demo' } })
  const none = await app.inject({ url: authorizeUrl({ prompt: 'none' }).url, headers: { cookie: jar.header() } })
  t.equal(new URL(none.headers.location as string).searchParams.get('error'), 'consent_required')
})

t.test('checkPassword applies the login limits to a host password form', async (t) => {
  const { app } = await hostApp(t)
  const events: string[] = []
  app.oidc.on('login.failure', () => events.push('failure'))
  app.oidc.on('login.locked', () => events.push('locked'))
  const check = async (password: string) => (await app.inject({
    method: 'POST', url: '/host/password', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ username: 'demo', password }).toString(),
  })).json()
  t.same(await check('demo'), { ok: true, accountId: 'demo' })
  t.same(await check('wrong'), { ok: false, reason: 'invalid' })
  t.same(await check('wrong'), { ok: false, reason: 'invalid' })
  t.same(await check('wrong'), { ok: false, reason: 'invalid' })
  t.match(await check('demo'), { ok: false, reason: 'locked', retryAfter: Number }, 'locked even with the right password')
  t.same(events, ['failure', 'failure', 'failure', 'locked', 'locked'])
})

t.test('a claims hook adds claims but cannot change registered ones (dropped with a warning)', async (t) => {
  const logLines: string[] = []
  const { app } = await hostApp(t, {
    tokenClaims: {
      accessToken: ({ accountId, scopes, client }) => ({ sub: 'admin', aud: 'https://evil.example', scope: 'admin', tenant: 'acme', for: `${accountId}@${client.clientId}`, n: scopes.size }),
      idToken: () => ({ sub: 'admin', aud: 'other', iss: 'https://evil.example', nonce: 'x', amr: ['fake'], department: 'R&D' }),
    },
  }, logLines)
  const { jar, interaction, verifier } = await start(app)
  const res = await finish(app, jar, interaction, { login: { accountId: 'demo', amr: ['pwd'] }, consent: {} })
  const tokens = await exchange(app, res.headers.location as string, verifier)
  const access = jwtClaims(tokens.access_token)
  t.match(access, { sub: 'demo', aud: ISSUER, scope: 'openid profile email', client_id: 'web-app', tenant: 'acme', for: 'demo@web-app', n: 3 })
  const id = jwtClaims(tokens.id_token)
  t.match(id, { sub: 'demo', aud: 'web-app', iss: ISSUER, amr: ['pwd'], department: 'R&D', email: 'demo@example.com', name: 'Demo User' })
  t.notOk(id.nonce === 'x', 'the nonce is the request\'s')
  const warnings = logLines.map((line) => JSON.parse(line) as { claim?: string, token?: string, msg: string }).filter((entry) => /registered claim/.test(entry.msg))
  t.same(warnings.map((entry) => `${entry.token}:${entry.claim}`).sort(), ['access_token:aud', 'access_token:scope', 'access_token:sub', 'id_token:amr', 'id_token:aud', 'id_token:iss', 'id_token:nonce', 'id_token:sub'])

  // A second token: no second warning for the same claim.
  const again = await start(app, jar, { prompt: 'login' })
  const second = await finish(app, jar, again.interaction, { login: { accountId: 'demo' } })
  await exchange(app, second.headers.location as string, again.verifier)
  t.equal(logLines.filter((line) => /registered claim/.test(line)).length, 8, 'one warning per claim name')

  // client_credentials tokens go through the access-token hook too, without an account.
  const service = await app.inject({
    method: 'POST', url: '/token', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('service', 'service-secret-0123456789') }, payload: 'grant_type=client_credentials',
  })
  t.match(jwtClaims((service.json() as { access_token: string }).access_token), { sub: 'service', aud: ISSUER, tenant: 'acme', for: 'undefined@service' })
})

t.test('idTokenScopeClaims: false keeps ID tokens minimal (OIDC Core §5.4)', async (t) => {
  const { app } = await hostApp(t, { idTokenScopeClaims: false })
  const { jar, interaction, verifier } = await start(app)
  const res = await finish(app, jar, interaction, { login: { accountId: 'demo' }, consent: {} })
  const id = jwtClaims((await exchange(app, res.headers.location as string, verifier)).id_token)
  t.equal(id.email, undefined)
  t.equal(id.name, undefined)
  t.equal(id.sub, 'demo')
})

t.test('Redis: the interaction, the session and the code keep acr/amr; single use holds', async (t) => {
  const redis = await requireRedis(t)
  if (redis === undefined) return
  const prefix = testPrefix()
  const store = new RedisStore({ client: redis, prefix })
  t.teardown(async () => { await store.close(); await deleteKeys(redis, prefix) })
  const { app } = await hostApp(t, { store })
  const { jar, interaction, verifier } = await start(app)
  const [a, b] = await Promise.all([
    finish(app, jar, interaction, { login: { accountId: 'alice', acr: 'urn:example:mfa', amr: ['pwd', 'otp'] } }),
    finish(app, jar, interaction, { login: { accountId: 'alice', acr: 'urn:example:mfa', amr: ['pwd', 'otp'] } }),
  ])
  t.same([a.statusCode, b.statusCode].sort(), [303, 400], 'one winner on Redis too')
  const winner = a.statusCode === 303 ? a : b
  const consent = (await app.inject({ url: winner.headers.location as string, headers: { cookie: jar.header() } })).json() as { id: string, csrfToken: string, account: Record<string, unknown> }
  t.match(consent.account, { accountId: 'alice', acr: 'urn:example:mfa', amr: ['pwd', 'otp'] })
  const done = await finish(app, jar, consent, { consent: {} })
  t.match(jwtClaims((await exchange(app, done.headers.location as string, verifier)).id_token), { acr: 'urn:example:mfa', amr: ['pwd', 'otp'] })
  // SSO: the session read back from Redis still knows how the user signed in.
  const sso = authorizeUrl()
  const silent = await app.inject({ url: sso.url, headers: { cookie: jar.header() } })
  t.match(silent.headers.location, /^https:\/\/rp\.example\.com\/cb\?code=/)
  t.match(jwtClaims((await exchange(app, silent.headers.location as string, sso.verifier)).id_token), { acr: 'urn:example:mfa', amr: ['pwd', 'otp'] })
})

t.test('a store that reads the client with the session (getClientWithSession): one read per SSO authorization', async (t) => {
  // Issue 32: a stored client and a signed-in browser are read in one store step, before the parse.
  const calls = { withSession: 0, getClient: 0 }
  class OneStepStore extends MemoryStore {
    override async getClient (clientId: string): Promise<ClientRecord | undefined> {
      calls.getClient++
      return await super.getClient(clientId)
    }

    async getClientWithSession (clientId: string, sessionId: string): Promise<{ client: ClientRecord | undefined, session: { session: SessionRecord, grant: GrantRecord | undefined } | undefined }> {
      calls.withSession++
      const session = await this.getSessionWithGrant(sessionId, clientId)
      return { client: await super.getClient(clientId), session }
    }
  }
  const store = new OneStepStore()
  t.teardown(() => store.close())
  const stored: ClientRecord = {
    client_id: 'stored-app',
    client_secret_hash: sha256(client.client_secret),
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: client.redirect_uris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'openid profile email',
    application_type: 'web',
    client_id_issued_at: Math.floor(Date.now() / 1000),
  }
  await store.saveClient(stored)
  const { app } = await hostApp(t, { store })
  const first = authorizeUrl({ client_id: stored.client_id })
  const jar = new CookieJar()
  const res = await app.inject({ url: first.url })
  jar.update(res)
  t.equal(calls.withSession, 0, 'no session cookie yet: the client alone is read')
  const shown = (await app.inject({ url: res.headers.location as string, headers: { cookie: jar.header() } })).json() as { id: string, csrfToken: string }
  const consent = await finish(app, jar, shown, { login: { accountId: 'alice' } })
  const consentShown = (await app.inject({ url: consent.headers.location as string, headers: { cookie: jar.header() } })).json() as { id: string, csrfToken: string }
  await finish(app, jar, consentShown, { consent: {} })

  const before = { ...calls }
  const sso = authorizeUrl({ client_id: stored.client_id })
  const silent = await app.inject({ url: sso.url, headers: { cookie: jar.header() } })
  t.match(silent.headers.location, /^https:\/\/rp\.example\.com\/cb\?code=/, 'SSO: a code at once')
  t.same({ withSession: calls.withSession - before.withSession, getClient: calls.getClient - before.getClient }, { withSession: 1, getClient: 0 },
    'one step read the client, the session and the grant')
  const code = new URL(silent.headers.location as string).searchParams.get('code')!
  const token = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(stored.client_id, client.client_secret) },
    payload: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: client.redirect_uris[0]!, code_verifier: sso.verifier }).toString(),
  })
  t.equal(token.statusCode, 200, 'the code is redeemed')

  const unknown = await app.inject({ url: authorizeUrl({ client_id: 'nobody' }).url, headers: { cookie: jar.header() } })
  t.equal(unknown.statusCode, 400, 'an unknown client is still refused on a page')
  t.match(unknown.body, /not registered/)
  // A static client is not in the store: the session is read on its own, after the parse.
  const counted = calls.withSession
  const staticSso = authorizeUrl()
  const other = await app.inject({ url: staticSso.url, headers: { cookie: jar.header() } })
  t.equal(calls.withSession, counted, 'no store step for a static client')
  t.match(other.headers.location, /^https:\/\/rp\.example\.com\/cb\?|^\/host/, 'the static client is answered as before')
})
