import t, { type Test } from 'tap'
import { createServer } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { decodeJwt } from 'jose'
import { MemoryPasskeyStore, MemoryStore, RedisStore, type StaticClient, type Store } from '../../lib/index.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { deviceSummary } from '../../lib/sessions/device.js'
import Fastify from 'fastify'
import { oidcProvider } from '../../lib/index.js'
import { freePort, startServer } from '../helpers/server.js'
import { testKeys } from '../helpers/keys.js'
import { testUsers } from '../helpers/users.js'
import { HttpBrowser } from '../helpers/http-browser.js'
import { pkcePair } from '../helpers/flow.js'
import { deleteKeys, requireRedis, testPrefix } from '../helpers/redis.js'

// The built-in account page (issue 30) over real HTTP, on memory and on Redis: the signed-in
// user's apps and sessions, revoking one app, ending a session, and every refusal: a forged or
// cross-site form, another user's grant or session, a name with HTML in it.

const REDIRECT = 'https://rp.example.com/cb'
const WEB = { client_id: 'web', client_secret: 'web-secret-0123456789abcdef' }
const OTHER = { client_id: 'other', client_secret: 'other-secret-0123456789abcdef' }
const HOSTILE_NAME = 'Photo <img src=x onerror=alert(1)> & "co"'

function clients (backchannel?: string): StaticClient[] {
  const common = { redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'] as StaticClient['grant_types'], scope: 'openid profile email offline_access' }
  return [
    { ...WEB, ...common, client_name: HOSTILE_NAME, logo_uri: 'https://cdn.rp.example.com/logo.png' },
    { ...OTHER, ...common, ...(backchannel === undefined ? {} : { backchannel_logout_uri: backchannel }) },
  ]
}

/** A Back-Channel Logout receiver recording each POSTed logout_token. */
async function startReceiver (t: Test): Promise<{ url: string, tokens: string[] }> {
  const state = { url: '', tokens: [] as string[] }
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      state.tokens.push(new URLSearchParams(body).get('logout_token') ?? '')
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bc`
  return state
}

interface Tokens { access_token: string, refresh_token?: string, id_token?: string }

async function signIn (issuer: string, browser: HttpBrowser, client: typeof WEB, scope: string, user = { username: 'demo', password: 'demo' }): Promise<Tokens> {
  const { verifier, challenge } = pkcePair()
  const url = new URL(`${issuer}/authorize`)
  url.search = new URLSearchParams({ response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, scope, code_challenge: challenge, code_challenge_method: 'S256', state: 's' }).toString()
  const back = await browser.authorize(url, user)
  const code = back.searchParams.get('code')
  if (code === null) throw new Error(`no code: ${back.href}`)
  return await (await tokenRequest(issuer, client, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier })).json() as Tokens
}

async function tokenRequest (issuer: string, client: typeof WEB, fields: Record<string, string>): Promise<Response> {
  return await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}` },
    body: new URLSearchParams(fields).toString(),
  })
}

/** Every value of a hidden field on the page, in order. */
function hiddenValues (html: string, name: string): string[] {
  return [...html.matchAll(new RegExp(`name="${name}" value="([^"]*)"`, 'g'))].map((match) => match[1] ?? '')
}

/** The sids of the session list, the current one marked. */
function sessionsOf (html: string): Array<{ sid: string, current: boolean }> {
  return [...html.matchAll(/<li class="session">([\s\S]*?)<\/li>/g)].map((match) => ({
    sid: /name="sid" value="([^"]*)"/.exec(match[1] ?? '')?.[1] ?? '',
    current: (match[1] ?? '').includes('This browser'),
  }))
}

async function post (browser: HttpBrowser, url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return await browser.send(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(url).origin, ...headers },
    body: new URLSearchParams(fields).toString(),
  })
}

async function suite (t: Test, store: Store): Promise<void> {
  const receiver = await startReceiver(t)
  const { app, issuer } = await startServer(t, { store, users: testUsers, clients: clients(receiver.url), accountPage: true, outbound: { allowHttpLoopback: true, timeoutMs: 5000 } })
  const here = new HttpBrowser()
  const elsewhere = new HttpBrowser()
  const web = await signIn(issuer, here, WEB, 'openid profile offline_access')
  const other = await signIn(issuer, here, OTHER, 'openid email offline_access')
  await signIn(issuer, elsewhere, OTHER, 'openid email')
  const alice = await signIn(issuer, new HttpBrowser(), OTHER, 'openid offline_access', { username: 'alice', password: 'wonderland' })

  const page = await here.send(`${issuer}/account`)
  const html = await page.text()
  t.equal(page.status, 200)
  const csp = page.headers.get('content-security-policy') ?? ''
  t.notMatch(csp, /script-src/, 'no script on the page')
  t.match(csp, /img-src 'self' data: https:\/\/cdn\.rp\.example\.com/, 'the registered logo\'s origin, and only it, is added to img-src')
  t.match(csp, /form-action 'self'/)
  t.equal(page.headers.get('cache-control'), 'no-store')
  t.match(html, 'demo@example.com', 'greets the signed-in user')
  t.notOk(html.includes('<img src=x'), 'the client name is not markup')
  t.match(html, 'Photo &lt;img src=x onerror=alert(1)&gt; &amp; &quot;co&quot;', 'the client name is escaped')
  t.match(html, 'src="https://cdn.rp.example.com/logo.png"', 'the registered logo')
  t.match(html, '<li title="profile">Your name and basic profile information</li>', 'the scopes granted, in words')
  t.match(html, '<li title="offline_access">Stay connected when you are not using it</li>')
  t.notOk(html.includes('alice'), 'nothing of another user')
  const grantIds = hiddenValues(html, 'grant_id')
  t.equal(grantIds.length, 2, 'both apps')
  const sessions = sessionsOf(html)
  t.equal(sessions.length, 2, 'both of demo\'s sessions')
  t.equal(sessions.filter((entry) => entry.current).length, 1, 'one is this browser\'s')
  const [csrf] = hiddenValues(html, 'csrf_token')
  const webGrant = (await app.oidc.connectedApps.list('demo')).apps.find((entry) => entry.clientId === 'web')?.grantId ?? ''
  t.ok(grantIds.includes(webGrant))

  // Refusals: nothing below may change anything.
  const revokeUrl = `${issuer}/account/apps/revoke`
  const forged = await post(here, revokeUrl, { csrf_token: 'forged', grant_id: webGrant })
  t.equal(forged.status, 403, 'a wrong CSRF token is refused')
  t.match(await forged.text(), /<!doctype html>/i, 'as a page')
  const crossSite = await post(here, revokeUrl, { csrf_token: csrf ?? '', grant_id: webGrant }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })
  t.equal(crossSite.status, 403, 'a cross-site post is refused even with the token')
  const otherBrowser = await post(elsewhere, revokeUrl, { csrf_token: csrf ?? '', grant_id: webGrant })
  t.equal(otherBrowser.status, 403, 'the token is bound to the session it was issued for')
  const aliceGrant = (await app.oidc.connectedApps.list('alice')).apps[0]?.grantId ?? ''
  const foreign = await post(here, revokeUrl, { csrf_token: csrf ?? '', grant_id: aliceGrant })
  t.equal(foreign.status, 404, 'another user\'s grant is refused')
  t.equal((await tokenRequest(issuer, OTHER, { grant_type: 'refresh_token', refresh_token: alice.refresh_token ?? '' })).status, 200, 'alice\'s app still works')
  t.equal((await post(here, revokeUrl, { csrf_token: csrf ?? '' })).status, 400, 'a missing grant_id is a 400')
  const aliceSid = (await app.oidc.accountSessions.list('alice'))[0]?.sid ?? ''
  t.ok(aliceSid !== '')
  const endUrl = `${issuer}/account/sessions/end`
  t.equal((await post(here, endUrl, { csrf_token: csrf ?? '', sid: aliceSid })).status, 404, 'another user\'s session is refused')
  t.equal((await app.oidc.accountSessions.list('alice')).length, 1, 'and goes on')
  t.equal((await app.oidc.connectedApps.list('demo')).apps.length, 2, 'demo\'s apps are all still there')

  // Revoking an app: its refresh token fails at /token, the other app's goes on.
  const revoked = await post(here, revokeUrl, { csrf_token: csrf ?? '', grant_id: webGrant })
  t.equal(revoked.status, 303)
  t.equal(revoked.headers.get('location'), '/account?done=revoked')
  const refused = await tokenRequest(issuer, WEB, { grant_type: 'refresh_token', refresh_token: web.refresh_token ?? '' })
  t.equal(refused.status, 400)
  t.equal((await refused.json() as { error: string }).error, 'invalid_grant', 'the revoked app\'s refresh token is refused')
  t.equal((await tokenRequest(issuer, OTHER, { grant_type: 'refresh_token', refresh_token: other.refresh_token ?? '' })).status, 200, 'the other app goes on')
  const after = await (await here.send(`${issuer}/account?done=revoked`)).text()
  t.match(after, 'The app no longer has access to your account.')
  t.equal(hiddenValues(after, 'grant_id').length, 1, 'one app left')

  // Ending the other browser's session: its cookie no longer signs in.
  const remote = sessions.find((entry) => !entry.current)?.sid ?? ''
  const ended = await post(here, endUrl, { csrf_token: csrf ?? '', sid: remote })
  t.equal(ended.status, 303)
  t.equal(ended.headers.get('location'), '/account?done=ended')
  t.match(await (await elsewhere.send(`${issuer}/account`)).text(), 'id="account-signed-out"', 'the other browser is signed out')
  // The delivery is not awaited by the form: wait for it (bounded).
  for (let tries = 0; receiver.tokens.length === 0 && tries < 250; tries++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(receiver.tokens.map((token) => decodeJwt(token).sid), [remote], 'the client it signed into got a Logout Token for that session (back-channel logout)')
  await signIn(issuer, elsewhere, OTHER, 'openid email')
  t.equal(elsewhere.sawLogin, true, 'it must sign in again')
  await signIn(issuer, here, OTHER, 'openid email offline_access')
  t.equal(here.sawLogin, false, 'this browser is still signed in')

  // Ending this browser's own session signs it out.
  const mine = sessionsOf(await (await here.send(`${issuer}/account`)).text()).find((entry) => entry.current)?.sid ?? ''
  const out = await post(here, endUrl, { csrf_token: csrf ?? '', sid: mine })
  t.equal(out.status, 200, 'answered like a logout without a redirect: the signed-out page')
  t.match(await out.text(), 'You have been signed out.')
  t.equal(here.hasCookie('oidc_session'), false, 'the session cookie is cleared')
  const signedOut = await here.send(`${issuer}/account`)
  t.equal(signedOut.status, 200, 'not signed in: a clear page, not an error')
  t.match(await signedOut.text(), 'You are not signed in')
  const late = await post(here, endUrl, { csrf_token: csrf ?? '', sid: mine })
  t.equal(late.status, 303, 'a form posted after sign-out goes back to the page')

  // The host API a host's own account page uses: another user's sid ends nothing.
  t.equal(await app.oidc.accountSessions.end('demo', aliceSid), false, 'demo cannot end alice\'s session')
  t.equal(await app.oidc.accountSessions.end('alice', aliceSid), true)
  t.same(await app.oidc.accountSessions.list('alice'), [])
}

t.test('memory', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  await suite(t, store)
})

t.test('redis', async (t) => {
  const client = await requireRedis(t)
  if (client === undefined) return
  const prefix = testPrefix()
  t.teardown(() => deleteKeys(client, prefix))
  await suite(t, new RedisStore({ client, prefix }))
})

t.test('last seen is written once per interval on use, and the device is recorded', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { issuer } = await startServer(t, { store, users: testUsers, clients: clients(), accountPage: true })
  const browser = new HttpBrowser()
  await signIn(issuer, browser, OTHER, 'openid')
  const [session] = await store.listAccountSessions('demo')
  if (session === undefined) throw new Error('no session')
  t.ok(session.device !== undefined && session.device !== '', 'the device is recorded at sign-in')
  t.equal(session.lastSeenAt, undefined, 'nothing written at sign-in beyond the session')
  // A session used long ago: the next use records it.
  await store.saveSession({ ...session, authTime: session.authTime - 3600 })
  await browser.send(`${issuer}/account`)
  const seen = (await store.listAccountSessions('demo'))[0]?.lastSeenAt ?? 0
  t.ok(seen >= session.authTime, 'lastSeenAt is written on use')
  await store.saveSession({ ...session, authTime: session.authTime - 3600, lastSeenAt: seen - 10 })
  await browser.send(`${issuer}/account`)
  t.equal((await store.listAccountSessions('demo'))[0]?.lastSeenAt, seen - 10, 'a use within the interval writes nothing')
})

t.test('passkeys on the account page: add through the enrolment ceremony, rename, remove; another user\'s refused', async (t) => {
  const passkeys = new MemoryPasskeyStore()
  const { issuer } = await startServer(t, { users: testUsers, clients: clients(), accountPage: true, passkeys: { store: passkeys, offerEnrolment: false } })
  const browser = new HttpBrowser()
  await signIn(issuer, browser, OTHER, 'openid')
  const first = await browser.send(`${issuer}/account`)
  const html = await first.text()
  t.match(html, 'id="no-passkeys"')
  t.match(first.headers.get('content-security-policy') ?? '', new RegExp(`script-src ${issuer.replace(/[.]/g, '\\.')}/passkeys/; connect-src 'self'`), 'our scripts only')
  const [csrf] = hiddenValues(html, 'csrf_token')

  t.equal((await post(browser, `${issuer}/account/passkeys/options`, { csrf_token: 'forged' })).status, 403, 'options need the CSRF token')
  const options = await post(browser, `${issuer}/account/passkeys/options`, { csrf_token: csrf ?? '' })
  t.equal(options.status, 200)
  const creation = await options.json() as { challenge: string, user: { id: string, name: string } }
  t.equal(creation.user.name, 'demo@example.com', 'for the signed-in user')
  const authenticator = new SoftAuthenticator(issuer)
  const added = await post(browser, `${issuer}/account/passkeys/add`, { csrf_token: csrf ?? '', name: 'Laptop <b>', response: JSON.stringify(authenticator.register(creation)) })
  t.equal(added.headers.get('location'), '/account?done=passkey_added')
  const [stored] = await passkeys.listPasskeys('demo')
  t.equal(stored?.credentialId, authenticator.credentialId, 'the passkey is demo\'s')
  const replayed = await post(browser, `${issuer}/account/passkeys/add`, { csrf_token: csrf ?? '', response: JSON.stringify(authenticator.register(creation)) })
  t.equal(replayed.headers.get('location'), '/account?done=passkey_failed', 'a replayed ceremony is refused, on the page')
  const listed = await (await browser.send(`${issuer}/account?done=passkey_added`)).text()
  t.match(listed, 'Laptop &lt;b&gt;', 'its name, escaped')
  t.match(listed, 'Your passkey was added.')

  await passkeys.createPasskey({ ...stored!, credentialId: 'alice-credential-0123456789', accountId: 'alice', name: 'Alice phone' })
  t.equal((await post(browser, `${issuer}/account/passkeys/remove`, { csrf_token: csrf ?? '', credential_id: 'alice-credential-0123456789' })).status, 404, 'another user\'s passkey is refused')
  t.equal((await post(browser, `${issuer}/account/passkeys/rename`, { csrf_token: csrf ?? '', credential_id: 'alice-credential-0123456789', name: 'mine' })).status, 404)
  t.equal((await passkeys.listPasskeys('alice'))[0]?.name, 'Alice phone', 'and stays as it was')
  t.equal((await post(browser, `${issuer}/account/passkeys/rename`, { csrf_token: csrf ?? '', credential_id: authenticator.credentialId, name: '' })).status, 400, 'an empty name is a 400')

  const renamed = await post(browser, `${issuer}/account/passkeys/rename`, { csrf_token: csrf ?? '', credential_id: authenticator.credentialId, name: 'Work laptop' })
  t.equal(renamed.headers.get('location'), '/account?done=passkey_renamed')
  t.equal((await passkeys.listPasskeys('demo'))[0]?.name, 'Work laptop')
  const removed = await post(browser, `${issuer}/account/passkeys/remove`, { csrf_token: csrf ?? '', credential_id: authenticator.credentialId })
  t.equal(removed.headers.get('location'), '/account?done=passkey_removed')
  t.same(await passkeys.listPasskeys('demo'), [])
})

t.test('without the passkeys option the page has no script and no passkey routes', async (t) => {
  const { issuer } = await startServer(t, { users: testUsers, clients: clients(), accountPage: true })
  const browser = new HttpBrowser()
  await signIn(issuer, browser, OTHER, 'openid')
  const page = await browser.send(`${issuer}/account`)
  t.notOk((await page.text()).includes('<script'), 'no script tag')
  t.equal((await post(browser, `${issuer}/account/passkeys/options`, { csrf_token: 'x' })).status, 404)
})

t.test('the host replaces the page with its own template (pages.templates.account)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'account-template-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'account.eta')
  await writeFile(file, '<p id="mine"><%= it.signedIn ? it.account : it.title %></p><% (it.apps || []).forEach(function (app) { %><i><%= app.name %></i><b><%= app.scopes.map(function (s) { return s.name }).join("-") %></b><% }) %>')
  const { issuer } = await startServer(t, { users: testUsers, clients: clients(), accountPage: true, pages: { templates: { account: file } } })
  t.equal(await (await fetch(`${issuer}/account`)).text(), '<p id="mine">You are not signed in</p>', 'signed out, with the same variables')
  const browser = new HttpBrowser()
  await signIn(issuer, browser, WEB, 'openid')
  const page = await browser.send(`${issuer}/account`)
  t.equal(await page.text(), '<p id="mine">demo@example.com</p><i>Photo &lt;img src=x onerror=alert(1)&gt; &amp; &quot;co&quot;</i><b>openid</b>', 'the host\'s template, values escaped')
  t.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/, 'with the pages\' headers')
})

t.test('a host\'s own account page: app.oidc.accountSessions.current names the signed-in user', async (t) => {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const app = Fastify({ logger: false })
  await app.register(oidcProvider, { issuer, keys: testKeys(), cookieSecret: 'x'.repeat(32), users: testUsers, clients: clients() })
  // A host route beside the provider (the page option is off): who is signed in, and their sessions.
  app.get('/my-account', async (request) => {
    const who = await app.oidc.accountSessions.current(request)
    if (who === undefined) return { signedIn: false }
    return { who, sessions: (await app.oidc.accountSessions.list(who.accountId)).map((entry) => entry.sid) }
  })
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())
  t.same(await (await fetch(`${issuer}/my-account`)).json(), { signedIn: false })
  const browser = new HttpBrowser()
  const tokens = await signIn(issuer, browser, OTHER, 'openid')
  const sid = decodeJwt(tokens.id_token ?? '').sid
  const answer = await (await browser.send(`${issuer}/my-account`)).json() as { who: { accountId: string, sid: string }, sessions: string[] }
  t.match(answer.who, { accountId: 'demo', sid })
  t.same(answer.sessions, [sid])
})

t.test('the page is off by default', async (t) => {
  const { issuer } = await startServer(t, { users: testUsers, clients: clients() })
  t.equal((await fetch(`${issuer}/account`)).status, 404)
})

t.test('device summaries', async (t) => {
  t.equal(deviceSummary('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'), 'Firefox on Linux')
  t.equal(deviceSummary('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15'), 'Safari on macOS')
  t.equal(deviceSummary('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0'), 'Edge on Windows')
  t.equal(deviceSummary('Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1'), 'Chrome on iOS')
  t.equal(deviceSummary('Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36'), 'Chrome on Android')
  t.equal(deviceSummary('curl/8.5.0'), 'curl/8.5.0', 'unknown agents are kept as sent')
  t.equal(deviceSummary(`x\u0000\u001b[31m${'y'.repeat(200)}`), `x[31m${'y'.repeat(75)}`, 'control characters dropped, cut to 80')
  t.equal(deviceSummary('\u0001'), undefined)
  t.equal(deviceSummary(undefined), undefined)
})
