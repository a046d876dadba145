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

/**
 * The example host on a loopback port, a client registered on it, openid-client configured.
 * `host`: `localhost` where WebAuthn runs (it refuses an IP address as RP ID).
 */
async function startExample (t: Test, host = '127.0.0.1') {
  const port = await freePort()
  const issuer = `http://${host}:${port}`
  await startExampleServer(t, { PORT: String(port), ISSUER: issuer, SECRET_KEY: 's'.repeat(32) }, { build: buildCustomLoginServer, algorithms: ['RS256'] })
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
  steps: (page: Page) => Promise<void>,
  /** More authorization request parameters (acr_values). */
  extra: Record<string, string> = {}
): Promise<client.TokenEndpointResponse & client.TokenEndpointResponseHelpers> {
  const verifier = client.randomPKCECodeVerifier()
  // A fresh nonce each time: the provider refuses a nonce used before (replay protection).
  const nonce = client.randomNonce()
  const url = client.buildAuthorizationUrl(env.config, {
    redirect_uri: env.redirectUri,
    scope,
    state: 'st-1',
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...extra,
  })
  await page.goto(url.href)
  await steps(page)
  await page.waitForURL((landed) => landed.href.startsWith(env.redirectUri))
  return await client.authorizationCodeGrant(env.config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: 'st-1', expectedNonce: nonce, idTokenExpected: true })
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
    // The passkey offer comes after both factors; "Not now" finishes with them.
    await page.click('#passkey-skip')
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
    await page.click('#passkey-skip')
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
    await page.click('#passkey-skip')
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

t.test('custom-login example: passkeys through app.oidc.passkeys on the host pages: enrol after the password, then sign in with the passkey only', async (t) => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const env = await startExample(t, 'localhost')
  const context = await browser.newContext()
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()) })
  // A CTAP2 platform authenticator with user verification (the DevTools protocol's virtual
  // authenticator); it simulates the user's touch, so the ceremonies need no prompt.
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  })

  const first = await signIn(page, env, 'openid', async (page) => {
    await page.fill('#username', 'demo')
    await page.fill('#password', 'demo')
    await page.click('#sign-in')
    // The host's offer, after the password: registration options + verification.
    await page.waitForSelector('#passkey-button')
    t.equal(await page.textContent('#host-title'), 'Add a passkey?')
    await page.fill('#passkey-name', 'Test laptop')
    await page.click('#passkey-button')
    await page.waitForURL(/\/approve\?/)
    await page.click('#approve')
  })
  t.same(first.claims()!.amr, ['pwd'], 'the first sign-in was the password')
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId })
  t.equal(credentials.length, 1, 'the authenticator holds the new passkey')
  t.equal(credentials[0]!.isResidentCredential, true, 'a discoverable credential (usernameless sign-in)')

  // Step-up: the application asks for a passkey's class; the password session is not reused.
  const stepUp = await signIn(page, env, 'openid', async (page) => {
    t.equal(new URL(page.url()).pathname, '/sign-in', 'the host page again, despite the session')
    t.equal(await page.textContent('#step-up'), 'This application asks you to sign in with a passkey.')
    await page.waitForSelector('#passkey-button', { state: 'visible' })
    await page.click('#passkey-button')
  }, { acr_values: 'phr' })
  t.same(stepUp.claims()!.amr, ['hwk', 'user'], 'stepped up with the passkey')
  t.equal(stepUp.claims()!.acr, 'phrh', 'a device-bound passkey satisfies phr')

  // Signed out: the provider's cookies are gone; only the authenticator remembers the user.
  await context.clearCookies()
  const second = await signIn(page, env, 'openid', async (page) => {
    t.equal(new URL(page.url()).pathname, '/sign-in')
    await page.waitForSelector('#passkey-button', { state: 'visible' })
    // No username typed: the passkey names the user (authentication options + verification).
    await page.click('#passkey-button')
  })
  const claims = second.claims()!
  t.equal(claims.sub, 'demo', 'usernameless: the passkey named the user')
  t.same(claims.amr, ['hwk', 'user'], 'a device-bound passkey with user verification (RFC 8176)')
  t.equal(claims.acr, 'phrh', 'the documented acr of a device-bound passkey')
  t.same(errors.filter((text) => /Content Security Policy/i.test(text)), [], 'nothing blocked by the CSP')
})
