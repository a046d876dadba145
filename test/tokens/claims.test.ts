import t from 'tap'
import * as client from 'openid-client'
import { MemoryStore, staticUsers, type ClaimsContext, type UserAdapter } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'
import { buildApp, ISSUER } from '../helpers/app.js'
import { testUsers } from '../helpers/users.js'
import { runCodeFlow, hiddenField, CookieJar, pkcePair } from '../helpers/flow.js'
import { jwtClaims } from '../helpers/codes.js'

const REDIRECT = 'https://rp.example.com/cb'
const web = { client_id: 'web-app', client_secret: 'web-app-secret-0123456789', redirect_uris: [REDIRECT], scope: 'openid profile email roles' }

t.test('openid-client: claims={"id_token":{"email":{"essential":true}}} puts email in the ID token (OIDC Core §5.5)', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { app, issuer } = await startServer(t, { store, users: testUsers, clients: [web] })
  const config = await client.discovery(new URL(issuer), web.client_id, undefined, client.ClientSecretBasic(web.client_secret), { execute: [client.allowInsecureRequests] })
  t.equal(config.serverMetadata().claims_parameter_supported, true)

  const claims = JSON.stringify({ id_token: { email: { essential: true } } })
  // The authorization URL as openid-client builds it, driven through login and consent.
  const built = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', claims, code_challenge: pkcePair().challenge, code_challenge_method: 'S256' })
  t.equal(built.searchParams.get('claims'), claims)
  const jar = new CookieJar()
  let res = await app.inject({ url: `/authorize?${built.searchParams}` })
  jar.update(res)
  const login = await app.inject({ method: 'POST', url: '/authorize', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() }, payload: new URLSearchParams({ interaction_id: hiddenField(res.body, 'interaction_id'), csrf_token: hiddenField(res.body, 'csrf_token'), username: 'demo', password: 'demo' }).toString() })
  jar.update(login)
  res = await app.inject({ url: login.headers.location as string, headers: { cookie: jar.header() } })
  t.match(res.body, /It also asks for: email/, 'a claim outside the scopes needs consent, and the page says so')

  const flow = await runCodeFlow(app, { clientId: web.client_id, redirectUri: REDIRECT, scope: 'openid', extra: { claims } })
  t.ok(flow.sawConsent)
  const tokens = await client.authorizationCodeGrant(config, flow.location, { pkceCodeVerifier: flow.verifier, idTokenExpected: true })
  const id = tokens.claims()!
  t.equal(id.email, 'demo@example.com')
  t.equal(id.email_verified, undefined, 'only the claim asked for')
  t.equal(id.name, undefined)
  t.equal(tokens.scope, 'openid')

  t.same(await client.fetchUserInfo(config, tokens.access_token, 'demo'), { sub: 'demo' }, 'the ID token request does not widen userinfo')

  // The userinfo member (OIDC Core §5.5): individual claims at the UserInfo endpoint.
  const forUserinfo = await runCodeFlow(app, { clientId: web.client_id, redirectUri: REDIRECT, scope: 'openid', extra: { claims: JSON.stringify({ userinfo: { name: null, email_verified: { essential: true }, sub: null } }) } })
  t.ok(forUserinfo.sawConsent, 'claims outside the scopes need consent')
  const userinfoTokens = await client.authorizationCodeGrant(config, forUserinfo.location, { pkceCodeVerifier: forUserinfo.verifier, idTokenExpected: true })
  t.equal(userinfoTokens.claims()!.name, undefined, 'not in the ID token')
  t.same(await client.fetchUserInfo(config, userinfoTokens.access_token, 'demo'), { sub: 'demo', name: 'Demo User', email_verified: true })

  const malformed = await runCodeFlow(app, { clientId: web.client_id, redirectUri: REDIRECT, scope: 'openid', extra: { claims: '{"id_token":[1]}' } })
  t.equal(malformed.location.searchParams.get('error'), 'invalid_request')
  const notJson = await runCodeFlow(app, { clientId: web.client_id, redirectUri: REDIRECT, scope: 'openid', extra: { claims: 'nope' } })
  t.equal(notJson.location.searchParams.get('error'), 'invalid_request')
})

t.test('custom scopes declare their claims and consent text in one place: userinfo, consent and discovery follow', async (t) => {
  const contexts: Array<ClaimsContext | undefined> = []
  const base = staticUsers([{ username: 'demo', password: 'demo', cost: { N: 1024 }, claims: { name: 'Demo', email: 'demo@example.com', roles: ['user'], tenant: 't-1' } }])
  const users: UserAdapter = {
    authenticate: (username, password) => base.authenticate(username, password),
    async claims (sub, scopes, context) {
      contexts.push(context)
      return await base.claims(sub, scopes)
    },
  }
  const app = await buildApp(t, { users, clients: [web], scopes: { roles: { claims: ['roles'], description: 'Your roles' }, phone: false } })
  const discovery = (await app.inject('/.well-known/openid-configuration')).json()
  t.same(discovery.scopes_supported, ['openid', 'profile', 'email', 'address', 'offline_access', 'roles'])
  t.ok(discovery.claims_supported.includes('roles'))
  t.notOk(discovery.claims_supported.includes('phone_number'), 'a removed scope takes its claims along')
  t.ok(discovery.claims_supported.includes('amr'))
  t.equal(discovery.claims_parameter_supported, true)
  t.same(discovery.ui_locales_supported, ['en', 'de', 'fr'])

  const jar = new CookieJar()
  const { challenge } = pkcePair()
  const query = new URLSearchParams({ response_type: 'code', client_id: web.client_id, redirect_uri: REDIRECT, scope: 'openid roles', code_challenge: challenge, code_challenge_method: 'S256' })
  const loginPage = await app.inject({ url: `/authorize?${query}` })
  jar.update(loginPage)
  const login = await app.inject({ method: 'POST', url: '/authorize', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() }, payload: new URLSearchParams({ interaction_id: hiddenField(loginPage.body, 'interaction_id'), csrf_token: hiddenField(loginPage.body, 'csrf_token'), username: 'demo', password: 'demo' }).toString() })
  jar.update(login)
  const consent = await app.inject({ url: login.headers.location as string, headers: { cookie: jar.header() } })
  t.match(consent.body, /Your roles/, 'the consent page shows the custom text')

  const flow = await runCodeFlow(app, { clientId: web.client_id, redirectUri: REDIRECT, scope: 'openid roles email' })
  const token = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'authorization_code', code: flow.code!, redirect_uri: REDIRECT, code_verifier: flow.verifier, client_id: web.client_id, client_secret: web.client_secret }).toString(),
  })
  const tokens = token.json() as { access_token: string, id_token: string }
  t.match(jwtClaims(tokens.id_token), { roles: ['user'], email: 'demo@example.com' })
  t.equal(jwtClaims(tokens.id_token).tenant, undefined, 'a claim no scope releases stays out')
  const userinfo = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.same(userinfo.json(), { sub: 'demo', roles: ['user'], email: 'demo@example.com' })
  t.match(contexts.at(-1), { kind: 'userinfo', accountId: 'demo', client: { clientId: 'web-app' } }, "the adapter's claims gets the context")
  t.ok(contexts.some((context) => context?.kind === 'id_token'))
})

t.test('the scopes option: the array form still works, bad definitions fail register naming the option', async (t) => {
  const app = await buildApp(t, { scopes: ['openid', 'email', { name: 'orders', claims: ['order_count'], description: 'Your orders' }] })
  const discovery = (await app.inject('/.well-known/openid-configuration')).json()
  t.same(discovery.scopes_supported, ['openid', 'email', 'orders'])
  t.ok(discovery.claims_supported.includes('order_count'))
  t.equal(discovery.issuer, ISSUER)

  for (const [scopes, message] of [
    [{ roles: { claims: ['sub'] } }, /registered claim "sub"/],
    [{ 'bad scope': {} }, /not a valid scope name/],
    [{ roles: 'yes' }, /must be true, false/],
    [[42], /each entry/],
    [{ roles: { claims: 'roles' } }, /claims must be an array/],
  ] as const) {
    await t.rejects(buildApp(t, { scopes: scopes as never }), { code: 'FST_OIDC_INVALID_OPTION', message }, JSON.stringify(scopes))
  }
  await t.rejects(buildApp(t, { tokenClaims: { refreshToken: () => ({}) } as never }), { message: /tokenClaims.refreshToken/ })
  await t.rejects(buildApp(t, { interactions: { url: 'https://x' } as never }), { message: /interactions.url/ })
})

t.test('releasedClaimNames: what the scopes release (plus extra claims), registered ones left out, in filterClaims order', async (t) => {
  const { releasedClaimNames, resolveScopes, filterClaims } = await import('../../lib/tokens/scopes.js')
  const registry = resolveScopes({ roles: { claims: ['roles'] } })
  t.same(releasedClaimNames(registry, 'openid email'), ['email', 'email_verified'])
  t.equal(releasedClaimNames(registry, 'openid email'), releasedClaimNames(registry, 'openid email'), 'computed once per scope string')
  t.ok(Object.isFrozen(releasedClaimNames(registry, 'openid email')), 'shared, so frozen')
  t.same(releasedClaimNames(registry, ''), [])
  t.same(releasedClaimNames(registry, 'roles email', ['nickname', 'sub', 'email']), ['roles', 'email', 'email_verified', 'nickname'], 'extra claims after, registered and repeated ones dropped')
  t.same(releasedClaimNames(registry, `email ${'x'.repeat(600)}`), ['email', 'email_verified'], 'a long scope string (not kept) answers the same')
  for (let i = 0; i < 600; i++) releasedClaimNames(registry, `s${i} phone`)
  t.same(releasedClaimNames(registry, 'phone'), ['phone_number', 'phone_number_verified'], 'right after the map was dropped and refilled')
  // The same selection as filterClaims, without `sub`.
  const claims = { sub: 'u', email: 'u@example.com', name: 'U', roles: ['admin'], phone_number: '1' }
  const expected = filterClaims(claims, new Set(['roles', 'email', 'profile']), registry, ['phone_number'])
  delete expected.sub
  const picked: Record<string, unknown> = {}
  for (const name of releasedClaimNames(registry, 'roles email profile', ['phone_number'])) {
    const value = (claims as Record<string, unknown>)[name]
    if (value !== undefined) picked[name] = value
  }
  t.strictSame(picked, expected)
  t.same(Object.keys(picked), Object.keys(expected), 'in the same order')
})
