import t, { type Test } from 'tap'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import * as client from 'openid-client'
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose'
import { startServer } from '../helpers/server.js'
import { testUsers } from '../helpers/users.js'
import { testKeys } from '../helpers/keys.js'
import { CookieJar, hiddenField, runCodeFlow } from '../helpers/flow.js'
import { signJwt } from '../../lib/tokens/jwt.js'
import { nowSeconds } from '../../lib/tokens/crypto.js'
import type { StaticClient } from '../../lib/index.js'

const REDIRECT = 'https://rp.example.com/cb'
const AFTER_LOGOUT = 'https://rp.example.com/signed-out'

/** A Back-Channel Logout receiver: records each POSTed logout_token; `hang` never answers. */
async function startReceiver (t: Test, mode: 'ok' | 'hang' = 'ok'): Promise<{ url: string, tokens: string[], hits: number }> {
  const state = { url: '', tokens: [] as string[], hits: 0 }
  const server = createServer((req: IncomingMessage, res) => {
    state.hits++
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      state.tokens.push(new URLSearchParams(body).get('logout_token') ?? '')
      if (mode === 'ok') res.writeHead(200, { 'cache-control': 'no-store' }).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/backchannel`
  return state
}

function clients (backchannel: string, hanging?: string): StaticClient[] {
  return [
    {
      client_id: 'web',
      client_secret: 'web-secret-0123456789abcdef',
      redirect_uris: [REDIRECT],
      post_logout_redirect_uris: [AFTER_LOGOUT],
      backchannel_logout_uri: backchannel,
      backchannel_logout_session_required: true,
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'openid profile email offline_access',
    },
    {
      client_id: 'other',
      client_secret: 'other-secret-0123456789abcdef',
      redirect_uris: [REDIRECT],
      ...(hanging === undefined ? {} : { backchannel_logout_uri: hanging }),
      scope: 'openid profile',
    },
  ]
}

async function setup (t: Test, options: { hanging?: boolean, timeoutMs?: number } = {}) {
  const receiver = await startReceiver(t)
  const hanging = options.hanging === true ? await startReceiver(t, 'hang') : undefined
  const { app, issuer } = await startServer(t, {
    users: testUsers,
    clients: clients(receiver.url, hanging?.url),
    outbound: { allowHttpLoopback: true, timeoutMs: options.timeoutMs ?? 5000 },
  })
  const web = await client.discovery(new URL(issuer), 'web', undefined, client.ClientSecretBasic('web-secret-0123456789abcdef'), { execute: [client.allowInsecureRequests] })
  return { app, issuer, receiver, hanging, web }
}

/** Signs in through the pages (app.inject) and exchanges the code with openid-client. */
async function signIn (app: FastifyInstance, web: client.Configuration, jar = new CookieJar(), clientId = 'web', scope = 'openid profile') {
  const flow = await runCodeFlow(app, { clientId, redirectUri: REDIRECT, scope, jar, state: 's1' })
  const tokens = await client.authorizationCodeGrant(web, flow.location, { pkceCodeVerifier: flow.verifier, expectedState: 's1' })
  return { jar, tokens, flow }
}

async function get (app: FastifyInstance, url: string, jar: CookieJar): Promise<LightMyRequestResponse> {
  const parsed = new URL(url)
  const res = await app.inject({ url: parsed.pathname + parsed.search, headers: { cookie: jar.header() } })
  jar.update(res)
  return res
}

async function confirm (app: FastifyInstance, page: string, jar: CookieJar, decision: 'logout' | 'stay', headers: Record<string, string> = { 'sec-fetch-site': 'same-origin' }): Promise<LightMyRequestResponse> {
  const res = await app.inject({
    method: 'POST',
    url: '/logout',
    payload: new URLSearchParams({ logout_id: hiddenField(page, 'logout_id'), csrf_token: hiddenField(page, 'csrf_token'), decision }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header(), ...headers },
  })
  jar.update(res)
  return res
}

t.test('discovery advertises the end_session_endpoint and back-channel logout', async (t) => {
  const { issuer, web } = await setup(t)
  const metadata = web.serverMetadata()
  t.equal(metadata.end_session_endpoint, `${issuer}/logout`)
  t.equal(metadata.backchannel_logout_supported, true)
  t.equal(metadata.backchannel_logout_session_supported, true)
})

t.test('openid-client buildEndSessionUrl: logout with id_token_hint, back to the registered URI with state; one Logout Token', async (t) => {
  const { app, issuer, web, receiver } = await setup(t)
  const { jar, tokens } = await signIn(app, web)
  const idClaims = tokens.claims()!
  t.type(idClaims.sid, 'string', 'the ID token carries sid')
  t.not(idClaims.sid, jar.cookies.get('oidc_session'), 'sid is not the cookie session id')

  const refreshed = await client.refreshTokenGrant(web, tokens.refresh_token!)
  t.equal(refreshed.claims()?.sid, idClaims.sid, 'an ID token from a refresh keeps the sid')

  const url = client.buildEndSessionUrl(web, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: AFTER_LOGOUT, state: 'bye-1' })
  const res = await get(app, url.href, jar)
  t.equal(res.statusCode, 302, 'a hint for the current session logs out at once')
  const location = new URL(res.headers.location as string)
  t.equal(location.origin + location.pathname, AFTER_LOGOUT)
  t.equal(location.searchParams.get('state'), 'bye-1')
  t.notOk(jar.cookies.has('oidc_session'), 'the session cookie is cleared')

  // The session is gone: /authorize shows the login page again.
  const again = await runCodeFlow(app, { clientId: 'web', redirectUri: REDIRECT, jar })
  t.ok(again.sawLogin, 'a new authorization needs a login')

  await waitFor(() => receiver.tokens.length >= 1)
  t.equal(receiver.tokens.length, 1, 'one Logout Token for one logout')
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks.json`))
  const { payload, protectedHeader } = await jwtVerify(receiver.tokens[0]!, jwks, { issuer, audience: 'web', typ: 'logout+jwt' })
  t.equal(protectedHeader.typ, 'logout+jwt')
  t.equal(payload.sid, idClaims.sid, 'the Logout Token names the session of the ID token')
  t.equal(payload.sub, 'demo')
  t.same(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} })
  t.type(payload.jti, 'string')
  t.type(payload.iat, 'number')
  t.ok(payload.exp! > payload.iat!, 'exp after iat')
  t.notOk('nonce' in payload, 'no nonce (BCL section 2.4)')

  // The browser signed in again: the old hint names an ended session, so the user is asked.
  const second = await get(app, url.href, jar)
  t.equal(second.statusCode, 200, 'a hint for another session: confirmation page')
  t.match(second.body, /name="logout_id"/)
  t.ok(jar.cookies.has('oidc_session'), 'the new session is untouched')
  t.equal(receiver.tokens.length, 1, 'still one token')
  // Without any session there is nothing to confirm.
  const fresh = await get(app, url.href, new CookieJar())
  t.equal(fresh.statusCode, 302, 'no session: straight to the post-logout URI')
})

t.test('refused logout requests render an error page and never redirect', async (t) => {
  const { app, issuer, web } = await setup(t)
  const { jar, tokens } = await signIn(app, web)
  const cases: Array<[string, Record<string, string>]> = [
    ['unregistered post_logout_redirect_uri', { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://evil.example/x' }],
    ['a prefix of a registered one', { client_id: 'web', post_logout_redirect_uri: 'https://rp.example.com/signed-out/more' }],
    ['no client to check it against', { post_logout_redirect_uri: AFTER_LOGOUT }],
    ['forged hint', { id_token_hint: tokens.id_token!.slice(0, -4) + 'AAAA', post_logout_redirect_uri: AFTER_LOGOUT }],
    ['client_id not the hint audience', { id_token_hint: tokens.id_token!, client_id: 'other' }],
    ['unknown client', { client_id: 'nobody' }],
  ]
  for (const [name, params] of cases) {
    const res = await get(app, `${issuer}/logout?${new URLSearchParams(params)}`, jar)
    t.equal(res.statusCode, 400, name)
    t.equal(res.headers.location, undefined, `${name}: no redirect`)
    t.match(res.headers['content-type'], /text\/html/)
    t.match(res.body, /invalid_request/)
  }
  const built = client.buildEndSessionUrl(web, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://rp.example.com/not-registered' })
  const res = await get(app, built.href, jar)
  t.equal(res.statusCode, 400, 'openid-client with an unregistered URI: error page')
  t.equal(res.headers.location, undefined)
  t.ok(jar.cookies.has('oidc_session'), 'and the user is still signed in')
})

t.test('an expired id_token_hint is accepted; no hint or another user asks for confirmation', async (t) => {
  const { app, issuer, web, receiver } = await setup(t)
  const { jar, tokens } = await signIn(app, web)
  const { signingKey } = await testKeys().load({ log: app.log })
  const sid = tokens.claims()!.sid
  const expired = await signJwt(signingKey, 'JWT', { iss: issuer, sub: 'demo', aud: 'web', iat: nowSeconds() - 7200, exp: nowSeconds() - 3600, sid })
  const ok = await get(app, `${issuer}/logout?${new URLSearchParams({ id_token_hint: expired, post_logout_redirect_uri: AFTER_LOGOUT })}`, jar)
  t.equal(ok.statusCode, 302, 'expired but genuine: logged out')
  await waitFor(() => receiver.tokens.length === 1)

  // No hint: the user is asked, with a CSRF-bound form.
  const second = await signIn(app, web)
  const page = await get(app, `${issuer}/logout?${new URLSearchParams({ client_id: 'web', post_logout_redirect_uri: AFTER_LOGOUT, state: 'st' })}`, second.jar)
  t.equal(page.statusCode, 200)
  t.match(page.body, /Sign out\?/)
  t.match(page.headers['content-security-policy'], /form-action 'self' https:\/\/rp\.example\.com/)
  t.notOk(page.headers['access-control-allow-origin'], 'no CORS on the logout page')

  const crossSite = await confirm(app, page.body, second.jar, 'logout', { 'sec-fetch-site': 'cross-site' })
  t.equal(crossSite.statusCode, 403, 'a cross-site post is refused')
  const foreignOrigin = await confirm(app, page.body, second.jar, 'logout', { origin: 'https://evil.example' })
  t.equal(foreignOrigin.statusCode, 403, 'another Origin is refused (browsers without Fetch Metadata)')
  const otherBrowser = await confirm(app, page.body, new CookieJar(), 'logout')
  t.equal(otherBrowser.statusCode, 403, 'another browser (no bid cookie) is refused')
  const badCsrf = await app.inject({
    method: 'POST',
    url: '/logout',
    payload: new URLSearchParams({ logout_id: hiddenField(page.body, 'logout_id'), csrf_token: 'nope', decision: 'logout' }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: second.jar.header() },
  })
  t.equal(badCsrf.statusCode, 403, 'a wrong CSRF token is refused')
  t.ok(second.jar.cookies.has('oidc_session'), 'still signed in after the refused posts')

  const done = await confirm(app, page.body, second.jar, 'logout', { 'sec-fetch-site': 'same-origin', origin: 'null' })
  t.equal(done.statusCode, 303)
  t.equal(done.headers.location, `${AFTER_LOGOUT}?state=st`)
  t.notOk(second.jar.cookies.has('oidc_session'))
  const replay = await confirm(app, page.body, second.jar, 'logout')
  t.equal(replay.statusCode, 400, 'one answer per confirmation page')
  await waitFor(() => receiver.tokens.length === 2)

  // A hint for another user (alice signed in, demo's token as hint): confirmation, then "stay".
  const alice = new CookieJar()
  await runCodeFlow(app, { clientId: 'web', redirectUri: REDIRECT, jar: alice, username: 'alice', password: 'wonderland' })
  const asked = await get(app, `${issuer}/logout?${new URLSearchParams({ id_token_hint: tokens.id_token! })}`, alice)
  t.equal(asked.statusCode, 200, 'a hint for another user is confirmed first')
  const stayed = await confirm(app, asked.body, alice, 'stay')
  t.equal(stayed.statusCode, 200)
  t.match(stayed.body, /still signed in/)
  t.ok(alice.cookies.has('oidc_session'), 'staying keeps the session')

  // logout_hint naming someone else also asks.
  const hinted = await get(app, `${issuer}/logout?${new URLSearchParams({ id_token_hint: tokens.id_token!, logout_hint: 'someone', ui_locales: 'fr en' })}`, alice)
  t.equal(hinted.statusCode, 200)
  t.match(hinted.body, /<html lang="fr">/, 'ui_locales reaches the page')

  // A relying party's POST is always confirmed (its cross-site POST carries no session cookie).
  const posted = await app.inject({
    method: 'POST',
    url: '/logout',
    payload: new URLSearchParams({ client_id: 'web' }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: alice.header() },
  })
  t.equal(posted.statusCode, 200)
  const signedOut = await confirm(app, posted.body, alice, 'logout')
  t.equal(signedOut.statusCode, 200, 'no post-logout URI: our signed-out page')
  t.match(signedOut.body, /You are signed out/)
  t.notOk(alice.cookies.has('oidc_session'))
})

t.test('back-channel delivery never delays the logout; failures are events', async (t) => {
  const { app, issuer, web, receiver, hanging } = await setup(t, { hanging: true, timeoutMs: 2500 })
  const failures: Array<{ clientId: string, reason: string }> = []
  app.oidc.on('backchannel_logout.failed', (event) => failures.push(event))
  const { jar, tokens } = await signIn(app, web)
  // The same session signs into the second client, whose receiver hangs.
  const other = await client.discovery(new URL(issuer), 'other', undefined, client.ClientSecretBasic('other-secret-0123456789abcdef'), { execute: [client.allowInsecureRequests] })
  await signIn(app, other, jar, 'other')

  const started = Date.now()
  const url = client.buildEndSessionUrl(web, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: AFTER_LOGOUT })
  const res = await get(app, url.href, jar)
  const took = Date.now() - started
  t.equal(res.statusCode, 302)
  // Ordering, not a wall-clock bound (a loaded machine stalls): had the logout waited for the
  // hanging delivery, its timeout would have been reported before the answer.
  t.same(failures, [], `the logout answered (in ${took} ms) before the hanging delivery timed out`)

  await waitFor(() => receiver.tokens.length === 1 && hanging!.hits === 1)
  const otherToken = decodeJwt(hanging!.tokens[0] ?? '')
  t.equal(otherToken.aud, 'other', 'each client gets its own token')
  await waitFor(() => failures.length === 1, 10_000)
  t.match(failures, [{ clientId: 'other', reason: 'timeout' }], 'the hanging receiver is reported')
})

t.test('app.oidc.endAccountSessions ends the sessions and tells their clients', async (t) => {
  const { app, web, receiver } = await setup(t)
  const ended: unknown[] = []
  app.oidc.on('session.ended', (event) => ended.push(event))
  const first = await signIn(app, web)
  const second = await signIn(app, web)
  t.equal(await app.oidc.endAccountSessions('demo'), 2)
  await waitFor(() => receiver.tokens.length === 2)
  const sids = receiver.tokens.map((token) => decodeJwt(token).sid).sort()
  t.same(sids, [first.tokens.claims()!.sid, second.tokens.claims()!.sid].sort(), 'one token per ended session')
  t.match(ended, [{ accountId: 'demo', reason: 'host', clients: 1 }, { accountId: 'demo', reason: 'host', clients: 1 }])
  const again = await runCodeFlow(app, { clientId: 'web', redirectUri: REDIRECT, jar: first.jar })
  t.ok(again.sawLogin, 'the browser must log in again')
})

t.test('after logout, tokens without offline_access stop working and offline ones survive', async (t) => {
  const { app, issuer, web } = await setup(t)
  const jar = new CookieJar()
  const online = await signIn(app, web, jar, 'web', 'openid profile')
  const offline = await signIn(app, web, jar, 'web', 'openid profile offline_access')
  const url = client.buildEndSessionUrl(web, { id_token_hint: online.tokens.id_token!, post_logout_redirect_uri: AFTER_LOGOUT })
  t.equal((await get(app, url.href, jar)).statusCode, 302)
  const refused = await client.refreshTokenGrant(web, online.tokens.refresh_token!).then(() => undefined, (error: unknown) => error)
  t.match(refused, { error: 'invalid_grant' }, 'the session family is revoked')
  const kept = await client.refreshTokenGrant(web, offline.tokens.refresh_token!)
  t.ok(kept.access_token, 'the offline_access family survives')
  t.ok(issuer)
})

/** Polls a condition that a background delivery will make true (no fixed sleeps). */
async function waitFor (condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
