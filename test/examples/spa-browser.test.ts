import t, { type Test } from 'tap'
import { createServer } from 'node:http'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { Page } from 'playwright-core'
import { freePort, startServer } from '../helpers/server.js'
import { launchBrowser } from '../helpers/browser.js'
import { testUsers } from '../helpers/users.js'

/** oidc-client-ts's own browser bundle (an IIFE defining `window.oidc`), as an app would ship it. */
const bundlePath = join(dirname(createRequire(import.meta.url).resolve('oidc-client-ts')), '..', 'browser', 'oidc-client-ts.min.js')

/**
 * A single-page app on its own origin (`http://localhost:PORT`, while the provider is on
 * `http://127.0.0.1:...`: another origin and another site). Every page loads the bundle and
 * builds a UserManager from nothing but the authority, client id and its own URLs.
 */
async function startSpa (t: Test, port: number, issuer: string): Promise<void> {
  const origin = `http://localhost:${port}`
  const bundle = readFileSync(bundlePath)
  const settings = {
    authority: issuer,
    client_id: 'spa',
    redirect_uri: `${origin}/callback.html`,
    post_logout_redirect_uri: `${origin}/signed-out.html`,
    scope: 'openid profile email',
    loadUserInfo: true,
  }
  const page = `<!doctype html><html><head><meta charset="utf-8"><title>SPA</title>
<script src="/oidc-client-ts.min.js"></script>
<script>window.mgr = new oidc.UserManager(${JSON.stringify(settings)});</script>
</head><body><h1>SPA</h1></body></html>`
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', origin).pathname
    if (path === '/oidc-client-ts.min.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle)
    else if (path === '/favicon.ico') res.writeHead(204).end()
    else res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page)
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
}

async function login (page: Page): Promise<void> {
  await page.waitForSelector('#username')
  await page.fill('#username', 'demo')
  await page.fill('#password', 'demo')
  await page.click('button[type=submit]')
}

/** Calls a UserManager method in the page and returns its (serialized) result. */
async function call (page: Page, method: string): Promise<unknown> {
  return await page.evaluate(`window.mgr.${method}()`)
}

/** Calls a UserManager method that navigates away, and waits for the navigation. */
async function navigate (page: Page, method: string, to: string, args: unknown = {}): Promise<void> {
  await Promise.all([page.waitForURL((url) => url.href.startsWith(to)), page.evaluate(`(window.mgr.${method}(${JSON.stringify(args)}), 0)`)])
}

interface SpaUser { access_token: string, refresh_token?: string | null, id_token?: string, profile: Record<string, unknown> }

t.test('oidc-client-ts in Chromium: sign in, userinfo, silent refresh, revocation, RP-initiated logout', async (t) => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const spaPort = await freePort()
  const origin = `http://localhost:${spaPort}`
  const { app, issuer } = await startServer(t, {
    users: testUsers,
    clients: [{
      client_id: 'spa',
      client_name: 'Single-Page App',
      token_endpoint_auth_method: 'none',
      redirect_uris: [`${origin}/callback.html`],
      post_logout_redirect_uris: [`${origin}/signed-out.html`],
      grant_types: ['authorization_code', 'refresh_token'],
    }],
  })
  await startSpa(t, spaPort, issuer)

  const page = await browser.newPage()
  const consoleErrors: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()) })
  page.on('pageerror', (error) => { consoleErrors.push(error.message) })

  await page.goto(`${origin}/app.html`)
  // signinRedirect() with only the authority: discovery comes from the provider, cross-origin.
  await navigate(page, 'signinRedirect', `${issuer}/authorize`)
  await login(page)
  await page.waitForURL(/\/consent\?/)
  await Promise.all([page.waitForURL((url) => url.href.startsWith(`${origin}/callback.html`)), page.click('button[value=approve]')])

  const user = await call(page, 'signinRedirectCallback') as SpaUser
  t.ok(user.access_token, 'signinRedirectCallback exchanged the code from the browser')
  t.ok(user.refresh_token, 'with a refresh token')
  t.equal(user.profile.sub, 'demo')
  t.equal(user.profile.email, 'demo@example.com', 'loadUserInfo read /userinfo cross-origin')
  t.type(user.profile.sid, 'string', 'the ID token carries sid')

  const refreshed = await call(page, 'signinSilent') as SpaUser
  t.not(refreshed.access_token, user.access_token, 'signinSilent refreshed with the refresh token')
  t.ok(refreshed.refresh_token)
  t.not(refreshed.refresh_token, user.refresh_token, 'and got the rotated one')

  await call(page, 'revokeTokens')
  const afterRevoke = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshed.refresh_token!, client_id: 'spa' }).toString(),
  })
  t.equal(afterRevoke.statusCode, 400, 'revokeTokens revoked the refresh token at the provider')
  t.equal(afterRevoke.json().error, 'invalid_grant')

  // signoutRedirect(): id_token_hint for the current session, so no confirmation is needed.
  await navigate(page, 'signoutRedirect', `${origin}/signed-out.html`, { state: { returnTo: '/home' } })
  const landed = new URL(page.url())
  t.ok(landed.searchParams.get('state'), 'landed on the registered post-logout URI with state')
  const signout = await call(page, 'signoutRedirectCallback') as { error?: string, userState?: unknown }
  t.notOk(signout.error)
  t.same(signout.userState, { returnTo: '/home' }, 'oidc-client-ts matched the returned state to its request')

  // The provider session is over: a new sign-in shows the login page again.
  await navigate(page, 'signinRedirect', `${issuer}/authorize`)
  await page.waitForSelector('#username')
  t.match(await page.textContent('h1'), /Sign in/, 'the login page is shown again')

  const corsErrors = consoleErrors.filter((text) => /CORS|Access-Control/i.test(text))
  t.same(corsErrors, [], 'no CORS error in the browser console')
})
