import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { decodeJwt } from 'jose'
import type { Page } from 'playwright-core'
import { MemoryPasskeyStore, oidcProvider, staticUsers } from '../../lib/index.js'
import { launchBrowser } from '../helpers/browser.js'
import { pkcePair } from '../helpers/flow.js'
import { freePort } from '../helpers/server.js'
import { testKeys } from '../helpers/keys.js'

/*
 * Passkeys in Chromium with the DevTools protocol's virtual authenticator (a CTAP2 platform
 * authenticator with user verification): the page's own script and @simplewebauthn/browser run
 * for real, under the page's CSP. WebAuthn needs a domain for its RP ID, so the issuer is
 * `localhost` (a secure context over http).
 */
const REDIRECT = 'https://app.example/callback'
const client = { client_id: 'web', client_secret: 'web-secret-0123456789abcdef', redirect_uris: [REDIRECT], scope: 'openid profile', first_party: true }
const users = staticUsers([{ username: 'alice', password: 'alice-password', sub: 'user-alice', claims: { email: 'alice@example.com' } }])

async function provider (t: Test, host: string): Promise<string> {
  const port = await freePort()
  const issuer = `http://${host}:${port}`
  const app = Fastify({ logger: false })
  await app.register(oidcProvider, { issuer, keys: testKeys(), cookieSecret: 's'.repeat(32), users, clients: [client], passkeys: { store: new MemoryPasskeyStore() } })
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return issuer
}

/**
 * Opens the authorization request and resolves the code the provider finally sends to the
 * client (read from the request; the client's host does not exist, its error page is fine).
 */
async function authorize (page: Page, issuer: string, act: () => Promise<void>): Promise<{ code: string, verifier: string }> {
  const { verifier, challenge } = pkcePair()
  const url = new URL(`${issuer}/authorize`)
  url.search = new URLSearchParams({ client_id: 'web', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid profile', nonce: crypto.randomUUID(), state: 's', code_challenge: challenge, code_challenge_method: 'S256', prompt: 'login' }).toString()
  const arrived = page.waitForRequest((request) => request.url().startsWith(REDIRECT), { timeout: 30_000 })
  // `commit`: the passkey autofill may finish the sign-in before the page's load event.
  await page.goto(url.href, { waitUntil: 'commit' }).catch((error: Error) => {
    // The autofill's sign-in may already be navigating to the client.
    if (!/interrupted by another navigation/.test(error.message)) throw error
  })
  await act()
  const code = new URL((await arrived).url()).searchParams.get('code')
  if (code === null) throw new Error(`no code: ${new URL((await arrived).url()).search}`)
  return { code, verifier }
}

async function idToken (issuer: string, grant: { code: string, verifier: string }): Promise<Record<string, unknown>> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: grant.code, redirect_uri: REDIRECT, code_verifier: grant.verifier }).toString(),
  })
  return decodeJwt(((await response.json()) as { id_token: string }).id_token)
}

t.setTimeout(120_000)

t.test('Chromium: enrol a passkey after a password, sign out, sign in with the passkey only', async (t) => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const issuer = await provider(t, 'localhost')
  const context = await browser.newContext()
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()) })
  const authenticator = { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true } as const
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: authenticator })

  const first = await authorize(page, issuer, async () => {
    await page.fill('#username', 'alice')
    await page.fill('#password', 'alice-password')
    await page.click('button[type=submit]')
    await page.waitForSelector('#passkey-button')
    await page.fill('#passkey-name', 'Test laptop')
    await page.click('#passkey-button')
  })
  t.same((await idToken(issuer, first)).amr, ['pwd'])

  // Signed out: the provider's cookies are gone; only the authenticator remembers the user.
  await context.clearCookies()
  // Conditional mediation: the page asks for a passkey as soon as it loads (autofill in the
  // username field), and the virtual authenticator, which simulates the user's presence,
  // answers it: the sign-in completes without a click.
  const second = await authorize(page, issuer, async () => {})
  const claims = await idToken(issuer, second)
  t.equal(claims.sub, 'user-alice', 'usernameless: the passkey named the user')
  t.same(claims.amr, ['hwk', 'user'])
  t.equal(claims.acr, 'phrh')
  t.same(errors.filter((text) => /Content Security Policy/i.test(text)), [], 'nothing blocked by the CSP')

  await t.test('the same passkey on another RP ID is not offered', async (t) => {
    // A fresh page (the first one may still be navigating to the client's missing host) with an
    // authenticator holding a copy of the passkey just made for `localhost`.
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId })
    t.equal(credentials.length, 1, 'the authenticator holds the passkey')
    const page = await context.newPage()
    const copy = await context.newCDPSession(page)
    await copy.send('WebAuthn.enable')
    const { authenticatorId: copyId } = await copy.send('WebAuthn.addVirtualAuthenticator', { options: authenticator })
    for (const credential of credentials) await copy.send('WebAuthn.addCredential', { authenticatorId: copyId, credential })
    const other = await provider(t, 'oidc.localhost')
    const { challenge } = pkcePair()
    const url = new URL(`${other}/authorize`)
    url.search = new URLSearchParams({ client_id: 'web', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256' }).toString()
    await page.goto(url.href)
    await page.click('#passkey-button')
    const message = page.locator('#passkey-error')
    await message.waitFor({ state: 'visible' })
    t.match(await message.textContent(), /cancelled or timed out/, 'the ceremony finds no credential for this RP ID')
  })
})
