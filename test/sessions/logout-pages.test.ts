import t, { type Test } from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { startServer } from '../helpers/server.js'
import { testUsers } from '../helpers/users.js'
import { CookieJar, hiddenField, runCodeFlow } from '../helpers/flow.js'
import type { OidcProviderOptions, StaticClient } from '../../lib/index.js'

/*
 * The logout confirmation and signed-out pages are pages like login and consent: the language
 * from ui_locales then Accept-Language (kept across the form's POST), the brand, host templates,
 * and the pages' CSP.
 */

const REDIRECT = 'https://rp.example.com/cb'

const clients: StaticClient[] = [{
  client_id: 'web',
  client_secret: 'web-secret-0123456789abcdef',
  client_name: 'Acme Notes',
  redirect_uris: [REDIRECT],
  scope: 'openid profile',
}]

async function setup (t: Test, pages: OidcProviderOptions['pages'] = {}) {
  return await startServer(t, { users: testUsers, clients, pages })
}

async function signedIn (app: FastifyInstance): Promise<CookieJar> {
  const flow = await runCodeFlow(app, { clientId: 'web', redirectUri: REDIRECT, scope: 'openid profile' })
  if (flow.code === null) throw new Error('the sign-in did not end with a code')
  return flow.jar
}

async function get (app: FastifyInstance, url: string, jar: CookieJar, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const res = await app.inject({ url, headers: { cookie: jar.header(), ...headers } })
  jar.update(res)
  return res
}

/** Answers a confirmation page as the user's browser would (same-origin form post). */
async function confirm (app: FastifyInstance, page: string, jar: CookieJar, decision: 'logout' | 'stay', headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const res = await app.inject({
    method: 'POST',
    url: '/logout',
    payload: new URLSearchParams({ logout_id: hiddenField(page, 'logout_id'), csrf_token: hiddenField(page, 'csrf_token'), decision }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', cookie: jar.header(), ...headers },
  })
  jar.update(res)
  return res
}

function assertPageHeaders (t: Test, headers: Record<string, unknown>, body: string): void {
  const csp = String(headers['content-security-policy'])
  t.match(csp, /default-src 'none'/, 'the pages CSP')
  t.notMatch(csp, /script-src/, 'no script source is allowed')
  t.match(csp, /style-src 'nonce-/, 'inline style only by nonce')
  t.notMatch(body, /<script/i, 'no script in the page')
  t.equal(headers['x-frame-options'], 'DENY')
  t.notOk(headers['access-control-allow-origin'], 'no CORS on the logout pages')
}

t.test('ui_locales=de: the confirmation in German, and the signed-out page after the POST too', async (t) => {
  const { app } = await setup(t, { brand: { name: 'Acme ID' } })
  const jar = await signedIn(app)

  const page = await get(app, `/logout?${new URLSearchParams({ client_id: 'web', ui_locales: 'de-CH de' })}`, jar, { 'accept-language': 'fr' })
  t.equal(page.statusCode, 200)
  t.match(page.body, /<html lang="de">/, 'ui_locales wins over Accept-Language')
  t.equal(page.headers['content-language'], 'de')
  t.match(page.body, /<h1>Abmelden\?<\/h1>/)
  t.match(page.body, /Acme Notes bittet Sie, sich abzumelden\./, 'the lead names the client')
  t.match(page.body, />Angemeldet bleiben</)
  t.match(page.body, /<span id="brand-name">Acme ID<\/span>/, "the brand's name above the card")
  t.match(page.body, /<title>Abmelden\? · Acme ID<\/title>/, 'and in the window title')
  assertPageHeaders(t, page.headers, page.body)

  // The POST carries another Accept-Language: the page after it keeps the confirmation's language.
  const done = await confirm(app, page.body, jar, 'logout', { 'accept-language': 'en' })
  t.equal(done.statusCode, 200)
  t.match(done.body, /<html lang="de">/)
  t.match(done.body, /<h1>Sie sind abgemeldet<\/h1>/)
  t.match(done.body, /Sie wurden abgemeldet\./)
  t.match(done.body, /id="brand-name">Acme ID</)
  assertPageHeaders(t, done.headers, done.body)
  t.notOk(jar.cookies.has('oidc_session'), 'the session ended')
})

t.test('Accept-Language: fr over real HTTP; "stay" answers in French', async (t) => {
  const { app, issuer } = await setup(t)
  const jar = await signedIn(app)

  // A relying party's form POST (always confirmed), without ui_locales: Accept-Language decides.
  const posted = await fetch(`${issuer}/logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'accept-language': 'fr-CA, en;q=0.5', cookie: jar.header() },
    body: new URLSearchParams({ client_id: 'web' }).toString(),
  })
  const body = await posted.text()
  t.equal(posted.status, 200)
  t.match(body, /<html lang="fr">/)
  t.equal(posted.headers.get('content-language'), 'fr')
  t.match(body, /<h1>Se déconnecter \?<\/h1>/)
  t.match(body, /Acme Notes vous demande de vous déconnecter\./)
  t.match(body, />Rester connecté</)
  assertPageHeaders(t, Object.fromEntries(posted.headers), body)

  for (const cookie of posted.headers.getSetCookie()) {
    const [name, value] = cookie.split(';')[0]!.split('=') as [string, string]
    jar.cookies.set(name, value)
  }
  // The user answers from the same browser, whose POST has no Accept-Language.
  const stayed = await confirm(app, body, jar, 'stay')
  t.equal(stayed.statusCode, 200, stayed.body.slice(0, 200))
  t.match(stayed.body, /<html lang="fr">/, 'the answer keeps the language without any header')
  t.match(stayed.body, /<h1>Vous êtes toujours connecté<\/h1>/)
  t.match(stayed.body, /Vous avez choisi de ne pas vous déconnecter\./)

  // No session and no redirect URI: straight to the signed-out page, in the asked language.
  const direct = await get(app, '/logout?ui_locales=fr', new CookieJar())
  t.equal(direct.statusCode, 200)
  t.match(direct.body, /<html lang="fr">/)
  t.match(direct.body, /Vous êtes déconnecté/)
  // Neither: English.
  const english = await get(app, '/logout', new CookieJar(), { 'accept-language': 'ja' })
  t.match(english.body, /<html lang="en">/)
  t.match(english.body, /You are signed out/)
})

t.test('a host replaces both logout templates through pages.templates', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'logout-templates-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const logout = join(dir, 'logout.eta')
  await writeFile(logout, `<!doctype html><html lang="<%= it.lang %>"><head><%~ include('./head', it) %></head><body>
<h1 id="own-logout">Leave <%= it.brand.name %>? <%= it.clientName %> / <%= it.t('logout.confirm') %></h1>
<form method="post" action="<%= it.action %>"><input type="hidden" name="logout_id" value="<%= it.logoutId %>"><input type="hidden" name="csrf_token" value="<%= it.csrfToken %>">
<button name="decision" value="logout">go</button></form></body></html>`)
  const loggedOut = join(dir, 'logged-out.eta')
  await writeFile(loggedOut, '<p id="own-logged-out"><%= it.outcome %>: <%= it.title %> (<%= it.lang %>)</p>')
  const { app } = await setup(t, { brand: { name: 'Acme ID' }, templates: { logout, 'logged-out': loggedOut } })
  const jar = await signedIn(app)

  const page = await get(app, `/logout?${new URLSearchParams({ client_id: 'web', ui_locales: 'de' })}`, jar)
  t.equal(page.statusCode, 200)
  t.match(page.body, /<h1 id="own-logout">Leave Acme ID\? Acme Notes \/ Abmelden<\/h1>/, "the host's template, with the variables")
  t.notMatch(page.body, /Angemeldet bleiben/, 'not ours')
  assertPageHeaders(t, page.headers, page.body)

  const done = await confirm(app, page.body, jar, 'logout')
  t.equal(done.statusCode, 200)
  t.equal(done.body, '<p id="own-logged-out">signed_out: Sie sind abgemeldet (de)</p>')
  t.match(done.headers['content-security-policy'], /default-src 'none'/, 'our headers on the host page too')
  t.notOk(jar.cookies.has('oidc_session'))
})
