import t, { type Test } from 'tap'
import { createServer } from 'node:http'
import Fastify from 'fastify'
import { MemoryPasskeyStore, oidcProvider } from '../../lib/index.js'
import { testKeys } from '../helpers/keys.js'
import { freePort, startServer } from '../helpers/server.js'
import { launchBrowser } from '../helpers/browser.js'
import { pkcePair } from '../helpers/flow.js'
import { testUsers } from '../helpers/users.js'

// The account page in Chromium (issue 30): after a sign-in, the page lists the app (its logo
// loads under the page's CSP), nothing on it violates the CSP, "Remove access" ends the grant,
// and the same form posted from another site is refused.

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64')

/** A relying party on another site (localhost, the provider is on 127.0.0.1): callback, logo, and a hostile form. */
async function startRelyingParty (t: Test, issuer: () => string): Promise<string> {
  const port = await freePort()
  const server = createServer((req, res) => {
    if (req.url === '/logo.png') {
      res.writeHead(200, { 'content-type': 'image/png' }).end(PNG)
      return
    }
    if (req.url?.startsWith('/evil') === true) {
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><form method="post" action="${issuer()}/account/apps/revoke">` +
        '<input type="hidden" name="grant_id" value="x"><input type="hidden" name="csrf_token" value="x"><button id="go">go</button></form>')
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('callback reached')
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return `http://localhost:${port}`
}

t.test('the account page in Chromium: lists the app, no CSP violation, revokes, refuses a cross-site form', async (t) => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  let issuerUrl = ''
  const rp = await startRelyingParty(t, () => issuerUrl)
  const { app, issuer } = await startServer(t, {
    users: testUsers,
    accountPage: true,
    clients: [{ client_id: 'spa', token_endpoint_auth_method: 'none', redirect_uris: [`${rp}/callback`], client_name: 'Browser <Test> App', logo_uri: `${rp}/logo.png` }],
  })
  issuerUrl = issuer
  const page = await browser.newPage()
  const violations: string[] = []
  page.on('console', (message) => { if (/Content.Security.Policy|Refused to/i.test(message.text())) violations.push(message.text()) })

  const { challenge } = pkcePair()
  const query = new URLSearchParams({ response_type: 'code', client_id: 'spa', redirect_uri: `${rp}/callback`, scope: 'openid profile', state: 's', code_challenge: challenge, code_challenge_method: 'S256' })
  await page.goto(`${issuer}/authorize?${query}`)
  await page.fill('#username', 'demo')
  await page.fill('#password', 'demo')
  await page.click('button[type=submit]')
  await page.waitForURL(/\/consent\?/)
  await Promise.all([page.waitForURL((url) => url.href.startsWith(rp)), page.click('button[value=approve]')])

  await page.goto(`${issuer}/account`)
  t.match(await page.textContent('h1'), /Your account/)
  t.match(await page.textContent('#apps'), /Browser <Test> App/, 'the client name renders as text')
  t.match(await page.textContent('#sessions'), /This browser/)
  const logoWidth = await page.$eval('img.logo', (img) => (img as unknown as { naturalWidth: number }).naturalWidth)
  t.equal(logoWidth, 1, 'the registered logo loads under the page\'s CSP')

  await Promise.all([page.waitForURL(/\/account\?done=revoked$/), page.click('#apps button[type=submit]')])
  t.match(await page.textContent('#account-notice'), /no longer has access/)
  t.match(await page.textContent('#no-apps'), /not let any app/)
  t.same((await app.oidc.connectedApps.list('demo')).apps, [], 'the grant ended')
  t.same(violations, [], 'no CSP violation on the pages')

  // The same form from another site: refused before anything is read (the guard's 403 page).
  const response = await page.goto(`${rp}/evil`)
  t.equal(response?.status(), 200)
  const [answer] = await Promise.all([page.waitForNavigation(), page.click('#go')])
  t.equal(answer?.status(), 403, 'a cross-site post is refused')
  t.match(await page.textContent('main'), /another site/)
})

t.test('the account page in Chromium: add a passkey with a virtual authenticator, under the page\'s CSP', async (t) => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  // WebAuthn needs a domain for its RP ID: the issuer is localhost (a secure context over http).
  const port = await freePort()
  const issuer = `http://localhost:${port}`
  const rp = await startRelyingParty(t, () => issuer)
  const passkeys = new MemoryPasskeyStore()
  const app = Fastify({ logger: false })
  await app.register(oidcProvider, {
    issuer,
    keys: testKeys(),
    cookieSecret: 's'.repeat(32),
    users: testUsers,
    accountPage: true,
    passkeys: { store: passkeys, offerEnrolment: false },
    clients: [{ client_id: 'spa', token_endpoint_auth_method: 'none', redirect_uris: [`${rp}/callback`], first_party: true }],
  })
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())

  const context = await browser.newContext()
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()) })
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  })

  const { challenge } = pkcePair()
  const query = new URLSearchParams({ response_type: 'code', client_id: 'spa', redirect_uri: `${rp}/callback`, scope: 'openid', state: 's', code_challenge: challenge, code_challenge_method: 'S256' })
  await page.goto(`${issuer}/authorize?${query}`)
  await page.fill('#username', 'demo')
  await page.fill('#password', 'demo')
  await Promise.all([page.waitForURL((url) => url.href.startsWith(rp)), page.click('button[type=submit]')])

  await page.goto(`${issuer}/account`)
  t.match(await page.textContent('#no-passkeys'), /no passkey yet/)
  await page.fill('#passkey-name', 'Virtual <key>')
  await Promise.all([page.waitForURL(/done=passkey_added$/), page.click('#passkey-button')])
  t.match(await page.textContent('#account-notice'), /passkey was added/)
  t.match(await page.textContent('#passkeys'), /Virtual <key>/, 'listed under its name, as text')
  t.equal((await passkeys.listPasskeys('demo')).length, 1, 'stored for the signed-in user')
  // (A 404 for /favicon.ico, which the provider does not serve, is not the page's.)
  t.same(errors.filter((text) => /Content Security Policy|Refused to/i.test(text)), [], 'nothing blocked by the CSP')
})
