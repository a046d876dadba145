import t, { type Test } from 'tap'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import formbody from '@fastify/formbody'
import * as client from 'openid-client'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { MemoryStore, oidcProvider, type LogoutInteraction, type SecurityEvents, type StaticClient } from '../../lib/index.js'
import { buildApp } from '../helpers/app.js'
import { hiddenField } from '../helpers/flow.js'
import { freePort } from '../helpers/server.js'
import { testKeys } from '../helpers/keys.js'
import { testUsers } from '../helpers/users.js'
import { HttpBrowser } from '../helpers/http-browser.js'

/*
 * The logout pages replaced through the interaction API (issue 15): `interactions.logoutUrl`
 * sends the confirmation to the host's route, which reads it with getLogoutInteraction and ends
 * it with finishInteraction({ logout }); `interactions.signedOutUrl` replaces the signed-out
 * page. Real HTTP, a Back-Channel Logout receiver, openid-client for the tokens; the forms are
 * posted the way a browser would (cookies kept, Sec-Fetch-Site set).
 */

const REDIRECT = 'https://rp.example.com/cb'
const AFTER_LOGOUT = 'https://rp.example.com/signed-out'
const form = { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' }

/** A Back-Channel Logout receiver: records each POSTed logout_token. */
async function startReceiver (t: Test): Promise<{ url: string, tokens: string[] }> {
  const state = { url: '', tokens: [] as string[] }
  const server = createServer((req: IncomingMessage, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      state.tokens.push(new URLSearchParams(body).get('logout_token') ?? '')
      res.writeHead(200, { 'cache-control': 'no-store' }).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/backchannel`
  return state
}

/** The provider with the built-in login pages and the host's own logout pages. */
async function setup (t: Test) {
  const receiver = await startReceiver(t)
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const clients: StaticClient[] = [{
    client_id: 'web',
    client_secret: 'web-secret-0123456789abcdef',
    client_name: 'Acme Notes',
    redirect_uris: [REDIRECT],
    post_logout_redirect_uris: [AFTER_LOGOUT],
    backchannel_logout_uri: receiver.url,
    grant_types: ['authorization_code', 'refresh_token'],
    scope: 'openid profile offline_access',
  }]
  const store = new MemoryStore()
  t.teardown(() => store.close?.())
  const app = Fastify({ logger: false })
  await app.register(formbody)
  await app.register(oidcProvider, {
    issuer,
    store,
    keys: testKeys(),
    cookieSecret: 'x'.repeat(32),
    users: testUsers,
    clients,
    outbound: { allowHttpLoopback: true },
    interactions: {
      logoutUrl: (interaction) => `/sign-out?interaction_id=${encodeURIComponent(interaction.id)}`,
      signedOutUrl: (view) => `/signed-out?${new URLSearchParams({ outcome: view.outcome, locale: view.locale, client: view.clientId ?? '' })}`,
    },
  })
  const ended: Array<SecurityEvents['session.ended']> = []
  app.oidc.on('session.ended', (event) => ended.push(event))
  // The host's pages: the pending logout as JSON (a real page would render a form from it).
  app.get('/sign-out', async (request) => await app.oidc.getLogoutInteraction(request))
  app.get('/sign-in-view', async (request) => await app.oidc.getInteraction(request))
  app.post('/sign-out', async (request, reply) => {
    const body = request.body as Record<string, string>
    if (body.decision === 'wrong') return await app.oidc.finishInteraction(request, reply, { consent: {} })
    return await app.oidc.finishInteraction(request, reply, { logout: body.decision === 'logout' })
  })
  app.get('/signed-out', async (request) => ({ page: 'host signed-out', ...(request.query as Record<string, string>) }))
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const web = await client.discovery(new URL(issuer), 'web', undefined, client.ClientSecretBasic('web-secret-0123456789abcdef'), { execute: [client.allowInsecureRequests] })
  return { app, issuer, receiver, web, ended, store }
}

type Env = Awaited<ReturnType<typeof setup>>

/** Signs in on the built-in pages over HTTP; openid-client exchanges the code. */
async function signIn (env: Env, browser = new HttpBrowser(), options: { scope?: string, username?: string, password?: string, prompt?: string } = {}) {
  const verifier = client.randomPKCECodeVerifier()
  const url = client.buildAuthorizationUrl(env.web, {
    redirect_uri: REDIRECT,
    scope: options.scope ?? 'openid profile',
    state: 'st',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...(options.prompt === undefined ? {} : { prompt: options.prompt }),
  })
  const back = await browser.authorize(url, { username: options.username ?? 'demo', password: options.password ?? 'demo' })
  const tokens = await client.authorizationCodeGrant(env.web, back, { pkceCodeVerifier: verifier, expectedState: 'st' })
  return { browser, tokens }
}

/** The RP sends the browser to the end_session_endpoint; the provider sends it on to the host's page. */
async function startLogout (env: Env, browser: HttpBrowser, params: Record<string, string>, method: 'GET' | 'POST' = 'GET') {
  const res = method === 'GET'
    ? await browser.send(`${env.issuer}/logout?${new URLSearchParams(params)}`)
    // A relying party's auto-submitted form: a cross-site POST.
    : await browser.send(`${env.issuer}/logout`, { method: 'POST', headers: { ...form, 'sec-fetch-site': 'cross-site' }, body: new URLSearchParams(params).toString() })
  return res
}

async function hostPage (env: Env, browser: HttpBrowser, location: string): Promise<LogoutInteraction> {
  const shown = await browser.send(new URL(location, env.issuer).href)
  if (shown.status !== 200) throw new Error(`host page answered ${shown.status}: ${await shown.text()}`)
  return await shown.json() as LogoutInteraction
}

async function answer (env: Env, browser: HttpBrowser, interaction: LogoutInteraction, decision: string, headers: Record<string, string> = {}): Promise<Response> {
  return await browser.send(`${env.issuer}/sign-out`, {
    method: 'POST',
    headers: { ...form, ...headers },
    body: new URLSearchParams({ interaction_id: interaction.id, csrf_token: interaction.csrfToken, decision }).toString(),
  })
}

async function refreshFails (env: Env, refreshToken: string): Promise<unknown> {
  return await client.refreshTokenGrant(env.web, refreshToken).then(() => undefined, (error: unknown) => error)
}

/** Polls a condition that a background delivery will make true (no fixed sleeps). */
async function waitFor (condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

t.test('the host page gets the pending logout; { logout: true } ends the session, tells the client, and goes back with state', async (t) => {
  const env = await setup(t)
  const { browser, tokens } = await signIn(env)
  const sid = tokens.claims()!.sid

  // No id_token_hint: RP-Initiated Logout 1.0 §2 requires asking, so the host's page is shown.
  const res = await startLogout(env, browser, { client_id: 'web', post_logout_redirect_uri: AFTER_LOGOUT, state: 'bye-1', ui_locales: 'de', logout_hint: 'demo' })
  t.equal(res.status, 302)
  t.equal(res.headers.get('cache-control'), 'no-store')
  const location = res.headers.get('location')!
  t.match(location, /^\/sign-out\?interaction_id=[\w-]+$/, "the host's logout route")
  const interaction = await hostPage(env, browser, location)
  t.match(interaction, {
    prompt: 'logout',
    client: { clientId: 'web', clientName: 'Acme Notes' },
    postLogoutRedirectUri: AFTER_LOGOUT,
    account: { accountId: 'demo' },
    logoutHint: 'demo',
    uiLocales: ['de'],
    locale: 'de',
  })
  t.type(interaction.account?.authTime, 'number')
  t.notOk('client_secret' in (interaction.client as object), 'only public metadata')

  // The login/consent reader refuses a pending logout (and the other way round, below).
  const wrongReader = await browser.send(`${env.issuer}/sign-in-view?interaction_id=${interaction.id}`)
  t.equal(wrongReader.status, 400, 'getInteraction does not read a sign-out')

  // The rules of every interaction form: cross-site, another browser, a wrong CSRF token.
  const crossSite = await answer(env, browser, interaction, 'logout', { 'sec-fetch-site': 'cross-site' })
  t.equal(crossSite.status, 403, 'a cross-site post is refused')
  const foreignOrigin = await answer(env, browser, interaction, 'logout', { 'sec-fetch-site': '', origin: 'https://evil.example' })
  t.equal(foreignOrigin.status, 403, 'another Origin is refused')
  const otherBrowser = await answer(env, new HttpBrowser(), interaction, 'logout')
  t.equal(otherBrowser.status, 403, 'a finish from another browser (no browser cookie) is refused')
  t.match(await otherBrowser.text(), /sign-out request was started in another browser/)
  const badCsrf = await answer(env, browser, { ...interaction, csrfToken: 'nope' }, 'logout')
  t.equal(badCsrf.status, 403, 'a wrong CSRF token is refused')
  const wrongResult = await answer(env, browser, interaction, 'wrong')
  t.equal(wrongResult.status, 500, 'a { consent } result on a sign-out is a host mistake')
  t.ok(browser.hasCookie('oidc_session'), 'still signed in after the refused posts')
  t.equal(env.receiver.tokens.length, 0, 'and nobody was told anything')

  const done = await answer(env, browser, interaction, 'logout')
  t.equal(done.status, 303)
  t.equal(done.headers.get('location'), `${AFTER_LOGOUT}?state=bye-1`, 'back to the registered URI with state')
  t.equal(done.headers.get('cache-control'), 'no-store')
  t.notOk(browser.hasCookie('oidc_session'), "the session cookie is cleared on the host's reply")
  t.match(await refreshFails(env, tokens.refresh_token!), { error: 'invalid_grant' }, 'the refresh token without offline_access is dead')
  const replay = await answer(env, browser, interaction, 'logout')
  t.equal(replay.status, 400, 'single use')

  await waitFor(() => env.receiver.tokens.length >= 1)
  t.equal(env.receiver.tokens.length, 1, 'one Logout Token')
  const { payload } = await jwtVerify(env.receiver.tokens[0]!, createRemoteJWKSet(new URL(`${env.issuer}/jwks.json`)), { issuer: env.issuer, audience: 'web', typ: 'logout+jwt' })
  t.equal(payload.sid, sid, 'for the ended session')
  t.match(env.ended, [{ accountId: 'demo', reason: 'logout', clients: 1 }])

  // The browser must sign in again.
  await signIn(env, browser)
  t.ok(browser.sawLogin, 'a new authorization shows the login page')
})

t.test('{ logout: false }: the session stays, nobody is told, and the browser still goes back with state', async (t) => {
  const env = await setup(t)
  const { browser, tokens } = await signIn(env)
  const res = await startLogout(env, browser, { client_id: 'web', post_logout_redirect_uri: AFTER_LOGOUT, state: 'st-2' })
  const interaction = await hostPage(env, browser, res.headers.get('location')!)
  const declined = await answer(env, browser, interaction, 'stay')
  t.equal(declined.status, 303)
  t.equal(declined.headers.get('location'), `${AFTER_LOGOUT}?state=st-2`, 'RP-Initiated Logout §3: the verified URI, whatever the answer')
  t.ok(browser.hasCookie('oidc_session'), 'the session cookie stays')
  const refreshed = await client.refreshTokenGrant(env.web, tokens.refresh_token!)
  t.ok(refreshed.access_token, 'the refresh token still works')
  await signIn(env, browser)
  t.notOk(browser.sawLogin, 'SSO: no login page')
  t.same(env.ended, [], 'no session ended')
  t.equal(env.receiver.tokens.length, 0, 'no Logout Token')
  t.equal((await answer(env, browser, interaction, 'logout')).status, 400, 'the answered interaction is gone')
})

t.test("signedOutUrl: without a post-logout URI the browser goes to the host's signed-out page", async (t) => {
  const env = await setup(t)
  const { browser, tokens } = await signIn(env)

  // A relying party's POST is always confirmed: 303 (Post/Redirect/Get) to the host's page.
  const posted = await startLogout(env, browser, { client_id: 'web', ui_locales: 'fr' }, 'POST')
  t.equal(posted.status, 303)
  const interaction = await hostPage(env, browser, posted.headers.get('location')!)
  t.equal(interaction.postLogoutRedirectUri, undefined)
  t.equal(interaction.locale, 'fr')
  const stayed = await answer(env, browser, interaction, 'stay')
  t.equal(stayed.status, 303)
  t.equal(stayed.headers.get('location'), '/signed-out?outcome=stayed&locale=fr&client=web')

  // A hint for the current session needs no confirmation: straight to the host's signed-out page.
  const direct = await startLogout(env, browser, { id_token_hint: tokens.id_token! })
  t.equal(direct.status, 302)
  t.equal(direct.headers.get('location'), '/signed-out?outcome=signed_out&locale=en&client=web')
  t.notOk(browser.hasCookie('oidc_session'))
  const page = await browser.send(new URL(direct.headers.get('location')!, env.issuer).href)
  t.match(await page.json(), { page: 'host signed-out', outcome: 'signed_out' })
  t.match(env.ended, [{ reason: 'logout' }])
})

t.test('a new login replaces the browser session: the old one ends (back-channel logout, reason replaced)', async (t) => {
  const env = await setup(t)
  const first = await signIn(env)
  const offline = await signIn(env, first.browser, { scope: 'openid profile offline_access' })
  t.notOk(first.browser.sawLogin, 'SSO for the offline one: the same session')
  const oldSid = first.tokens.claims()!.sid

  // prompt=login: alice signs in in the same browser; demo's session is replaced.
  const second = await signIn(env, first.browser, { prompt: 'login', username: 'alice', password: 'wonderland' })
  t.ok(first.browser.sawLogin)
  t.not(second.tokens.claims()!.sid, oldSid, 'a new session, a new sid')
  await waitFor(() => env.receiver.tokens.length >= 1)
  const { payload } = await jwtVerify(env.receiver.tokens[0]!, createRemoteJWKSet(new URL(`${env.issuer}/jwks.json`)), { issuer: env.issuer, audience: 'web', typ: 'logout+jwt' })
  t.equal(payload.sid, oldSid, 'the client is told that the old session ended')
  t.equal(payload.sub, 'demo')
  t.match(env.ended, [{ accountId: 'demo', reason: 'replaced', clients: 1 }])
  t.match(await refreshFails(env, first.tokens.refresh_token!), { error: 'invalid_grant' }, "the old session's online family ended with it")
  t.ok((await client.refreshTokenGrant(env.web, offline.tokens.refresh_token!)).access_token, 'the offline_access family survives')
  t.ok((await client.refreshTokenGrant(env.web, second.tokens.refresh_token!)).access_token, "the new session's tokens work")
})

t.test('each reader and each form takes only its own kind of interaction; an older pending logout is still answered', async (t) => {
  const env = await setup(t)
  const { browser } = await signIn(env)
  // A pending login (prompt=login shows our login page) and a pending logout in the same browser.
  const login = await browser.send(client.buildAuthorizationUrl(env.web, { redirect_uri: REDIRECT, scope: 'openid', prompt: 'login', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }).href)
  const html = await login.text()
  const loginId = hiddenField(html, 'interaction_id')
  const loginCsrf = hiddenField(html, 'csrf_token')
  const started = await startLogout(env, browser, { client_id: 'web' })
  const logout = await hostPage(env, browser, started.headers.get('location')!)

  const asLogout = await browser.send(`${env.issuer}/sign-out?interaction_id=${loginId}`)
  t.equal(asLogout.status, 400, 'getLogoutInteraction does not read a sign-in')
  const finishedAsLogout = await answer(env, browser, { ...logout, id: loginId, csrfToken: loginCsrf }, 'logout')
  t.equal(finishedAsLogout.status, 500, '{ logout } on a sign-in is a host mistake')
  const asPassword = await browser.send(`${env.issuer}/authorize`, { method: 'POST', headers: form, body: new URLSearchParams({ interaction_id: logout.id, csrf_token: logout.csrfToken, username: 'demo', password: 'demo' }).toString() })
  t.equal(asPassword.status, 400, 'our login form refuses a pending logout')
  const asConsent = await browser.send(`${env.issuer}/consent?interaction_id=${logout.id}`)
  t.equal(asConsent.status, 400, 'our consent page refuses a pending logout')
  const ourForm = await browser.send(`${env.issuer}/logout`, { method: 'POST', headers: form, body: new URLSearchParams({ logout_id: loginId, csrf_token: loginCsrf, decision: 'logout' }).toString() })
  t.equal(ourForm.status, 400, 'our logout form refuses a pending login')
  t.ok(browser.hasCookie('oidc_session'), 'nothing was signed out')

  // A pending logout saved before records had a prompt (a rolling upgrade): known by params.kind.
  await env.store.saveInteraction({
    interactionId: 'legacy-logout-1',
    clientId: 'web',
    params: { kind: 'logout', ui_locales: '', locale: 'fr', post_logout_redirect_uri: AFTER_LOGOUT, state: 'old' },
    csrfToken: 'legacy-csrf-0123456789',
    expiresAt: Math.floor(Date.now() / 1000) + 60,
  })
  const legacy = await browser.send(`${env.issuer}/logout`, { method: 'POST', headers: form, body: new URLSearchParams({ logout_id: 'legacy-logout-1', csrf_token: 'legacy-csrf-0123456789', decision: 'logout' }).toString() })
  t.equal(legacy.status, 303)
  t.equal(legacy.headers.get('location'), `${AFTER_LOGOUT}?state=old`)
  t.notOk(browser.hasCookie('oidc_session'), 'signed out')
})

t.test('the interactions option: each page optional, at least one, each a function', async (t) => {
  await t.rejects(buildApp(t, { interactions: {} }), { message: /interactions\.url/ })
  await t.rejects(buildApp(t, { interactions: { logoutUrl: '/sign-out' } as never }), { message: /interactions\.logoutUrl/ })
  await t.rejects(buildApp(t, { interactions: { url: () => '/login', signedOutUrl: 42 } as never }), { message: /interactions\.signedOutUrl/ })
  const app = await buildApp(t, { interactions: { signedOutUrl: () => '/bye' } })
  const res = await app.inject('/logout')
  t.equal(res.statusCode, 302, 'signedOutUrl alone: no session, straight to the host page')
  t.equal(res.headers.location, '/bye')
  // Without logoutUrl the confirmation is ours, bound to a browser cookie set for it.
  const posted = await app.inject({ method: 'POST', url: '/logout', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' })
  t.equal(posted.statusCode, 200)
  t.match(posted.body, /name="logout_id"/, 'our confirmation page')
  t.ok(posted.cookies.some((cookie) => cookie.name === 'oidc_session.bid'), 'a new browser gets its binding cookie')
})
