import t, { type Test } from 'tap'
import { createServer } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startExampleServer } from '../helpers/example-server.js'
import { freePort, startServer } from '../helpers/server.js'
import { launchBrowser } from '../helpers/browser.js'
import { buildApp } from '../helpers/app.js'
import { pkcePair } from '../helpers/flow.js'
import { testUsers } from '../helpers/users.js'

/** The example server (`npm start`) on a loopback port, with one registered public client. */
async function startExample (t: Test): Promise<{ issuer: string, query: (extra?: Record<string, string>) => string }> {
  const { issuer } = await startExampleServer(t)
  const registered = await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [`${issuer}/callback`], token_endpoint_auth_method: 'none', client_name: 'Sprach-App' }),
  })
  const { client_id: clientId } = await registered.json() as { client_id: string }
  const query = (extra: Record<string, string> = {}): string => new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: `${issuer}/callback`, scope: 'openid email', code_challenge: pkcePair().challenge, code_challenge_method: 'S256', ...extra,
  }).toString()
  return { issuer, query }
}

/** A static file server standing in for the host's CDN: the logo and the extra stylesheet. */
async function startAssets (t: Test): Promise<string> {
  const port = await freePort()
  const server = createServer((req, res) => {
    if (req.url === '/logo.svg') {
      res.writeHead(200, { 'content-type': 'image/svg+xml' }).end('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="#e11d48"/></svg>')
    } else if (req.url === '/brand.css') {
      res.writeHead(200, { 'content-type': 'text/css' }).end('#brand-name { letter-spacing: 3px; }')
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return `http://127.0.0.1:${port}`
}

t.test('Chromium on the example server: ui_locales=de renders German, Accept-Language: fr French', async (t) => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const { issuer, query } = await startExample(t)

  const german = await browser.newPage()
  await german.goto(`${issuer}/authorize?${query({ ui_locales: 'de-CH de en' })}`)
  t.equal(await german.getAttribute('html', 'lang'), 'de')
  t.equal(await german.textContent('h1'), 'Anmelden')
  t.equal(await german.textContent('label[for=username]'), 'Benutzername')
  t.match(await german.textContent('p.sub'), /um mit Sprach-App fortzufahren/)
  await german.fill('#username', 'demo')
  await german.fill('#password', 'falsch')
  await german.click('button[type=submit]')
  t.equal(await german.textContent('#login-error'), 'Benutzername oder Passwort ist falsch.', 'errors are translated too')
  await german.fill('#password', 'demo')
  await german.click('button[type=submit]')
  // The example server offers a passkey after a password sign-in, in the request's language too.
  t.equal(await german.textContent('#passkey-skip'), 'Jetzt nicht')
  await german.click('#passkey-skip')
  await german.waitForURL(/\/consent\?/)
  t.equal(await german.getAttribute('html', 'lang'), 'de', 'the consent page keeps the language of the request')
  t.match(await german.textContent('main'), /Ihre E-Mail-Adresse/)
  t.equal(await german.textContent('button[value=approve]'), 'Erlauben')

  const context = await browser.newContext({ locale: 'fr-FR', extraHTTPHeaders: { 'accept-language': 'fr-FR,fr;q=0.9,en;q=0.5' } })
  t.teardown(() => context.close())
  const french = await context.newPage()
  await french.goto(`${issuer}/authorize?${query()}`)
  t.equal(await french.getAttribute('html', 'lang'), 'fr')
  t.equal(await french.textContent('h1'), 'Connexion')
  t.equal(await french.textContent('button[type=submit]'), 'Se connecter')

  const english = await browser.newPage()
  await english.setExtraHTTPHeaders({ 'accept-language': 'ja' })
  await english.goto(`${issuer}/authorize?${query()}`)
  t.equal(await english.getAttribute('html', 'lang'), 'en', 'no catalog for the language: English')
  t.equal(await english.textContent('h1'), 'Sign in')
})

t.test('Chromium: a brand shows its name and logo, its stylesheet applies, and the CSP holds', async (t) => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const assets = await startAssets(t)
  const redirectUri = `${assets}/cb`
  const { issuer } = await startServer(t, {
    users: testUsers,
    clients: [{ client_id: 'spa', token_endpoint_auth_method: 'none', redirect_uris: [redirectUri] }],
    pages: { brand: { name: 'Acme ID', logoUrl: `${assets}/logo.svg`, stylesheetUrl: `${assets}/brand.css`, colors: { accent: '#e11d48' } } },
  })
  const page = await browser.newPage()
  const violations: string[] = []
  page.on('console', (message) => { if (/Content Security Policy/i.test(message.text())) violations.push(message.text()) })
  const query = new URLSearchParams({ response_type: 'code', client_id: 'spa', redirect_uri: redirectUri, scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' })
  const response = await page.goto(`${issuer}/authorize?${query}`)
  const csp = response!.headers()['content-security-policy']!
  t.match(csp, /default-src 'none'/)
  t.notMatch(csp, /script-src/, 'no script source at all')
  t.match(csp, new RegExp(`img-src 'self' data: ${assets}`))
  t.match(csp, new RegExp(`style-src 'nonce-[^']+' ${assets}`))
  t.equal(await page.textContent('#brand-name'), 'Acme ID')
  t.match(await page.title(), /Acme ID/)
  // Browser-side expressions as strings: the test's TypeScript has no DOM library.
  await page.waitForFunction("document.getElementById('brand-logo').complete === true")
  t.equal(await page.evaluate("document.getElementById('brand-logo').naturalWidth"), 40, 'the logo loaded under the CSP')
  t.equal(await page.evaluate("getComputedStyle(document.getElementById('brand-name')).letterSpacing"), '3px', 'the extra stylesheet applies')
  t.equal(await page.evaluate("getComputedStyle(document.querySelector('button[type=submit]')).backgroundColor"), 'rgb(225, 29, 72)', 'the accent colour')
  t.same(violations, [], 'no CSP violation')
})

t.test('templates: a host file replaces a page, with the documented variables', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pages-templates-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const login = join(dir, 'login.eta')
  await writeFile(login, `<!doctype html><html lang="<%= it.lang %>"><head><%~ include('./head', it) %></head><body>
<h1 id="own">Own login for <%= it.clientName %> (<%= it.interaction.prompt %>, <%= it.interaction.locale %>)</h1>
<p><%= it.t('login.username') %></p>
<form method="post" action="<%= it.action %>"><input type="hidden" name="interaction_id" value="<%= it.interactionId %>"><input type="hidden" name="csrf_token" value="<%= it.csrfToken %>">
<input name="username"><input name="password" type="password"></form></body></html>`)
  const error = join(dir, 'error.eta')
  await writeFile(error, '<p id="own-error"><%= it.error %>: <%= it.t("error.back") %></p>')
  const app = await buildApp(t, {
    users: testUsers,
    clients: [{ client_id: 'spa', token_endpoint_auth_method: 'none', redirect_uris: ['https://rp.example.com/cb'], client_name: '<b>App</b>' }],
    pages: { templates: { login, error }, messages: { es: { 'login.username': 'Usuario', 'error.back': 'Vuelva a la aplicación.' } } },
  })
  const query = new URLSearchParams({ response_type: 'code', client_id: 'spa', redirect_uri: 'https://rp.example.com/cb', scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256', ui_locales: 'es' })
  const res = await app.inject(`/authorize?${query}`)
  t.equal(res.statusCode, 200)
  t.match(res.body, /<html lang="es">/)
  t.match(res.body, /Own login for &lt;b&gt;App&lt;\/b&gt; \(login, es\)/, 'escaped, with the interaction')
  t.match(res.body, /<p>Usuario<\/p>/, "the host's language")
  t.match(res.headers['content-security-policy'], /default-src 'none'/, 'our headers still apply')
  const failed = await app.inject({ url: '/authorize?client_id=nobody&ui_locales=es' })
  t.equal(failed.statusCode, 400)
  t.match(failed.body, /<p id="own-error">invalid_request: Vuelva a la aplicación.<\/p>/)
  const discovery = (await app.inject('/.well-known/openid-configuration')).json()
  t.same(discovery.ui_locales_supported, ['en', 'de', 'fr', 'es'])

  await t.rejects(buildApp(t, { pages: { templates: { login: join(dir, 'missing.eta') } } }), { code: 'FST_OIDC_INVALID_OPTION', message: /pages/ })
  await t.rejects(buildApp(t, { pages: { brand: { colors: { accent: 'red; } body { x: y' } } } }), { message: /brand.colors.accent must be a CSS colour/ })
  await t.rejects(buildApp(t, { pages: { brand: { logoUrl: 'javascript:alert(1)' } } }), { message: /brand.logoUrl/ })
  await t.rejects(buildApp(t, { pages: { messages: { 'not a tag!': {} } } }), { message: /BCP 47/ })
})

t.test('the German and French catalogs are complete', async (t) => {
  const { builtInCatalogs } = await import('../../lib/index.js')
  const keys = Object.keys(builtInCatalogs.en!).sort()
  for (const locale of ['de', 'fr']) {
    t.same(Object.keys(builtInCatalogs[locale]!).sort(), keys, `${locale} has every key`)
    for (const key of keys) t.not(builtInCatalogs[locale]![key], '', `${locale} ${key}`)
  }
})
