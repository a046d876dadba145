import t, { type Test } from 'tap'
import { createServer } from 'node:http'
import { freePort, startServer } from '../helpers/server.js'
import { launchBrowser } from '../helpers/browser.js'
import { pkcePair } from '../helpers/flow.js'
import { testUsers } from '../helpers/users.js'

/** A stand-in relying party: its callback just answers 200 so the browser lands there. */
async function startRelyingParty (t: Test): Promise<string> {
  const port = await freePort()
  const server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }).end('callback reached') })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return `http://127.0.0.1:${port}/callback`
}

t.test('a person signs in and approves consent in Chromium', async (t) => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const redirectUri = await startRelyingParty(t)
  const { issuer } = await startServer(t, {
    users: testUsers,
    clients: [{ client_id: 'spa', token_endpoint_auth_method: 'none', redirect_uris: [redirectUri], client_name: 'Browser <Test> App' }],
  })
  const page = await browser.newPage()
  const { challenge } = pkcePair()
  const query = new URLSearchParams({ response_type: 'code', client_id: 'spa', redirect_uri: redirectUri, scope: 'openid profile email', state: 'state-123', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256' })

  await page.goto(`${issuer}/authorize?${query}`)
  t.match(await page.textContent('h1'), /Sign in/)
  t.match(await page.textContent('main'), /Browser <Test> App/, 'the client name renders as text')

  // A wrong password stays on the login page with an error.
  await page.fill('#username', 'demo')
  await page.fill('#password', 'wrong')
  await page.click('button[type=submit]')
  t.match(await page.textContent('#login-error'), /Invalid username or password/)
  t.equal(new URL(page.url()).pathname, '/authorize')

  await page.fill('#password', 'demo')
  await page.click('button[type=submit]')
  await page.waitForURL(/\/consent\?/)
  t.match(await page.textContent('main'), /Your email address/)
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(redirectUri)),
    page.click('button[value=approve]'),
  ])
  const landed = new URL(page.url())
  t.ok(landed.searchParams.get('code'), 'landed on the redirect_uri with a code')
  t.equal(landed.searchParams.get('state'), 'state-123')
  t.equal(landed.searchParams.get('iss'), issuer)
  t.match(await page.textContent('body'), /callback reached/)
})
