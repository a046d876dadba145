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

t.test('form_post in Chromium: the hashed script posts the code; a cross-site POST /authorize keeps SSO', async (t) => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  // The relying party on another site than the provider (localhost vs 127.0.0.1), so the
  // browser applies SameSite to what goes between them.
  const port = await freePort()
  const rp = `http://localhost:${port}`
  const redirectUri = `${rp}/callback`
  const posts: Array<{ url: string, body: URLSearchParams }> = []
  let startPage = ''
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      if (req.method === 'POST') posts.push({ url: req.url ?? '', body: new URLSearchParams(body) })
      if (req.url === '/start') res.writeHead(200, { 'content-type': 'text/html' }).end(startPage)
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('callback reached')
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const { issuer } = await startServer(t, {
    users: testUsers,
    clients: [{ client_id: 'fp', token_endpoint_auth_method: 'none', redirect_uris: [redirectUri], first_party: true }],
  })
  const request = (state: string, extra: Record<string, string> = {}): Record<string, string> => ({
    response_type: 'code', response_mode: 'form_post', client_id: 'fp', redirect_uri: redirectUri, scope: 'openid', state, code_challenge: pkcePair().challenge, code_challenge_method: 'S256', ...extra,
  })
  const page = await browser.newPage()
  const scriptErrors: string[] = []
  page.on('console', (message) => { if (/Content.Security.Policy/i.test(message.text())) scriptErrors.push(message.text()) })

  await page.goto(`${issuer}/authorize?${new URLSearchParams(request('first'))}`)
  await page.fill('#username', 'demo')
  await page.fill('#password', 'demo')
  await Promise.all([
    page.waitForURL(redirectUri),
    page.click('button[type=submit]'),
  ])
  t.equal(page.url(), redirectUri, 'landed on the redirect_uri, nothing in its query')
  t.equal(posts.length, 1)
  t.equal(posts[0]!.body.get('state'), 'first')
  t.ok(posts[0]!.body.get('code'), 'the code came as a POST body')
  t.equal(posts[0]!.body.get('iss'), issuer)
  t.same(scriptErrors, [], 'the CSP let the submit script run, and refused nothing')

  // The RP's own page POSTs the next request (prompt=none) to /authorize: cross-site, so the
  // browser leaves the Lax session cookie out; our re-post brings it, and SSO answers.
  const fields = request('second', { prompt: 'none' })
  startPage = `<form method="post" action="${issuer}/authorize">${Object.entries(fields).map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`).join('')}</form><script>document.forms[0].submit()</script>`
  await page.goto(`${rp}/start`)
  await page.waitForURL(redirectUri)
  t.equal(posts.length, 2)
  t.equal(posts[1]!.body.get('state'), 'second')
  t.equal(posts[1]!.body.get('error'), null, 'not login_required: the session was seen')
  t.ok(posts[1]!.body.get('code'))
})
