import t, { type Test } from 'tap'
import { createServer } from 'node:http'
import * as client from 'openid-client'
import * as OTPAuth from 'otpauth'
import type { Page } from 'playwright-core'
import { buildCustomLoginServer, aliceTotpSecret } from '../../examples/custom-login.js'
import { freePort } from '../helpers/server.js'
import { launchBrowser } from '../helpers/browser.js'
import { startExampleServer } from '../helpers/example-server.js'
import { jwtClaims } from '../helpers/codes.js'

/** A stand-in relying party: its callback just answers 200 so the browser lands there. */
async function startRelyingParty (t: Test): Promise<string> {
  const port = await freePort()
  const server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }).end('callback reached') })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return `http://127.0.0.1:${port}/callback`
}

/** The example host on a loopback port, a client registered on it, openid-client configured. */
async function startExample (t: Test) {
  const { issuer } = await startExampleServer(t, { SECRET_KEY: 's'.repeat(32) }, { build: buildCustomLoginServer, algorithms: ['RS256'] })
  const redirectUri = await startRelyingParty(t)
  const postLogoutUri = redirectUri.replace(/\/callback$/, '/signed-out')
  const registered = await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [redirectUri], post_logout_redirect_uris: [postLogoutUri], token_endpoint_auth_method: 'none', client_name: 'Rabbit Hole App', scope: 'openid profile email roles' }),
  })
  t.equal(registered.status, 201)
  const { client_id: clientId } = await registered.json() as { client_id: string }
  const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] })
  return { issuer, redirectUri, postLogoutUri, config }
}

async function signIn (
  page: Page,
  env: Awaited<ReturnType<typeof startExample>>,
  scope: string,
  steps: (page: Page) => Promise<void>
): Promise<client.TokenEndpointResponse & client.TokenEndpointResponseHelpers> {
  const verifier = client.randomPKCECodeVerifier()
  const url = client.buildAuthorizationUrl(env.config, {
    redirect_uri: env.redirectUri,
    scope,
    state: 'st-1',
    nonce: 'n-1',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  })
  await page.goto(url.href)
  await steps(page)
  await page.waitForURL((landed) => landed.href.startsWith(env.redirectUri))
  return await client.authorizationCodeGrant(env.config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: 'st-1', expectedNonce: 'n-1', idTokenExpected: true })
}

t.test('custom-login example: alice signs in with password + TOTP on the host pages and grants only openid and roles', async (t) => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const env = await startExample(t)
  const page = await browser.newPage()
  const totp = new OTPAuth.TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: OTPAuth.Secret.fromBase32(aliceTotpSecret) })

  const tokens = await signIn(page, env, 'openid email roles', async (page) => {
    t.equal(new URL(page.url()).pathname, '/sign-in', "the host's own login route")
    t.equal(await page.textContent('#host-title'), 'Wonderland sign-in', "the host's own page, not our template")
    await page.fill('#username', 'alice')
    await page.fill('#password', 'wonderland')
    await page.click('#sign-in')
    await page.waitForSelector('#otp')
    await page.fill('#otp', totp.generate() === '000000' ? '111111' : '000000')
    await page.click('#verify')
    t.match(await page.textContent('#error'), /not valid/, 'a wrong TOTP code is refused')
    await page.fill('#otp', totp.generate())
    await page.click('#verify')
    await page.waitForURL(/\/approve\?/)
    t.ok(await page.isChecked('#scope-roles'))
    t.match(await page.textContent('label:has(#scope-roles)'), /Your roles/, 'the custom scope has its consent text')
    await page.uncheck('#scope-email')
    await page.click('#approve')
  })
  const id = tokens.claims()!
  t.same(id.amr, ['pwd', 'otp'])
  t.same(id.roles, ['admin', 'user'], 'the granted scope claims are in the ID token')
  t.equal(id.email, undefined, 'email was not granted')
  t.equal(typeof id.auth_time, 'number')
  t.equal(tokens.scope, 'openid roles', 'the user granted fewer scopes than asked')
  const access = jwtClaims(tokens.access_token)
  t.same(access.roles, ['admin', 'user'], 'the claims hook put the roles in the access token')
  t.equal(access.email, undefined)
  const userinfo = await client.fetchUserInfo(env.config, tokens.access_token, 'alice')
  t.same(userinfo, { sub: 'alice', roles: ['admin', 'user'] })
})

t.test('custom-login example: demo signs in with the password alone; without the roles scope no roles anywhere', async (t) => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const env = await startExample(t)
  const page = await browser.newPage()
  const tokens = await signIn(page, env, 'openid email', async (page) => {
    await page.fill('#username', 'demo')
    await page.fill('#password', 'wrong')
    await page.click('#sign-in')
    t.match(await page.textContent('#error'), /not right/)
    await page.fill('#password', 'demo')
    await page.click('#sign-in')
    await page.waitForURL(/\/approve\?/)
    t.equal(await page.$('#scope-roles'), null, 'roles was not asked for')
    await page.click('#approve')
  })
  const id = tokens.claims()!
  t.same(id.amr, ['pwd'])
  t.equal(id.roles, undefined)
  t.equal(id.email, 'demo@example.com')
  t.equal(jwtClaims(tokens.access_token).roles, undefined)
  const userinfo = await client.fetchUserInfo(env.config, tokens.access_token, 'demo')
  t.same(userinfo, { sub: 'demo', email: 'demo@example.com', email_verified: true })
})

t.test("custom-login example: the relying party's logout is confirmed on the host's /sign-out page, then back with state", async (t) => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const env = await startExample(t)
  const page = await browser.newPage()
  const signInSteps = async (page: Page): Promise<void> => {
    await page.fill('#username', 'demo')
    await page.fill('#password', 'demo')
    await page.click('#sign-in')
    await page.waitForURL(/\/approve\?/)
    await page.click('#approve')
  }
  await signIn(page, env, 'openid', signInSteps)

  // No id_token_hint: the user is asked, on the host's own page.
  await page.goto(client.buildEndSessionUrl(env.config, { post_logout_redirect_uri: env.postLogoutUri, state: 'bye-9' }).href)
  t.equal(new URL(page.url()).pathname, '/sign-out', "the host's logout route")
  t.equal(await page.textContent('#host-title'), 'Leaving Wonderland?')
  t.match(await page.textContent('p'), /Rabbit Hole App asks to sign you out \(demo\)/, 'the page names the client and the account')
  await page.click('#sign-out')
  await page.waitForURL((landed) => landed.href.startsWith(env.postLogoutUri))
  t.equal(new URL(page.url()).searchParams.get('state'), 'bye-9', 'back to the registered URI with state')

  // Signed out: the next authorization asks for the password again.
  const verifier = client.randomPKCECodeVerifier()
  await page.goto(client.buildAuthorizationUrl(env.config, {
    redirect_uri: env.redirectUri,
    scope: 'openid',
    nonce: 'n-2',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }).href)
  t.equal(new URL(page.url()).pathname, '/sign-in', 'the login page again')
})
