import t from 'tap'
import type { Test } from 'tap'
import Fastify from 'fastify'
import { decodeJwt } from 'jose'
import { MemoryPasskeyStore, MemoryStore, oidcProvider, RedisPasskeyStore, RedisStore, staticUsers, type OidcProviderOptions } from '../../lib/index.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { hiddenField, pkcePair } from '../helpers/flow.js'
import { freePort } from '../helpers/server.js'
import { testKeys } from '../helpers/keys.js'
import { deleteKeys, requireRedis, testPrefix } from '../helpers/redis.js'

const REDIRECT = 'https://app.example/callback'
const client = { client_id: 'web', client_secret: 'web-secret-0123456789abcdef', redirect_uris: [REDIRECT], scope: 'openid profile', first_party: true }
const users = staticUsers([{ username: 'alice', password: 'alice-password', sub: 'user-alice', claims: { name: 'Alice', email: 'alice@example.com' } }])
const keys = testKeys()

/** A provider on a real socket; `issuer` may be another instance's (two instances, one issuer). */
async function provider (t: Test, options: Partial<OidcProviderOptions>, issuer?: string): Promise<{ base: string, issuer: string }> {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const app = Fastify({ logger: false })
  await app.register(oidcProvider, { issuer: issuer ?? base, keys, cookieSecret: 's'.repeat(32), users, clients: [client], ...options } as OidcProviderOptions)
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { base, issuer: issuer ?? base }
}

/** A browser over fetch: cookies, and the Origin header a same-origin form or fetch carries. */
class Browser {
  readonly cookies = new Map<string, string>()
  constructor (readonly issuer: string) {}

  async send (url: string, form?: Record<string, string>): Promise<Response> {
    const headers: Record<string, string> = { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') }
    if (form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      headers.origin = new URL(this.issuer).origin
    }
    const response = await fetch(url, { method: form === undefined ? 'GET' : 'POST', headers, redirect: 'manual', ...(form === undefined ? {} : { body: new URLSearchParams(form).toString() }) })
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const index = pair!.indexOf('=')
      const value = pair!.slice(index + 1)
      if (value === '' || /max-age=0/i.test(line)) this.cookies.delete(pair!.slice(0, index))
      else this.cookies.set(pair!.slice(0, index), value)
    }
    return response
  }
}

interface LoginPage { fields: { interaction_id: string, csrf_token: string }, html: string, verifier: string, nonce: string }

async function loginPage (browser: Browser, base: string): Promise<LoginPage> {
  const { verifier, challenge } = pkcePair()
  const nonce = `n-${Math.random()}`
  const url = new URL(`${base}/authorize`)
  url.search = new URLSearchParams({ client_id: client.client_id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid profile', state: 's', nonce, code_challenge: challenge, code_challenge_method: 'S256', prompt: 'login' }).toString()
  const response = await browser.send(url.href)
  const html = await response.text()
  if (response.status !== 200) throw new Error(`login page: ${response.status} ${html.slice(0, 200)}`)
  return { fields: { interaction_id: hiddenField(html, 'interaction_id'), csrf_token: hiddenField(html, 'csrf_token') }, html, verifier, nonce }
}

/** The code of a final redirect to the client, redeemed: the ID token's claims. */
async function idTokenOf (base: string, response: Response, verifier: string): Promise<Record<string, unknown>> {
  if (response.status !== 303) throw new Error(`expected a redirect, got ${response.status}: ${(await response.text()).slice(0, 300)}`)
  const location = new URL(response.headers.get('location')!)
  const code = location.searchParams.get('code')
  if (code === null) throw new Error(`no code: ${location.href}`)
  const token = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }).toString(),
  })
  const body = await token.json() as { id_token: string }
  return decodeJwt(body.id_token)
}

async function passkeyOptions (browser: Browser, base: string, page: LoginPage): Promise<{ challenge: string }> {
  const response = await browser.send(`${base}/passkeys/login-options`, page.fields)
  if (response.status !== 200) throw new Error(`options: ${response.status} ${await response.text()}`)
  return await response.json() as { challenge: string }
}

/** Password sign-in, the offer, a new passkey: the flow goes on to the client. */
async function enrol (t: Test, base: string, issuer: string, authenticator: SoftAuthenticator): Promise<void> {
  const browser = new Browser(issuer)
  const page = await loginPage(browser, base)
  const offer = await browser.send(`${base}/authorize`, { ...page.fields, username: 'alice', password: 'alice-password' })
  const offerHtml = await offer.text()
  t.equal(offer.status, 200, 'a password sign-in without a passkey is offered one')
  t.match(offerHtml, /Add a passkey/)
  t.match(offer.headers.get('content-security-policy') ?? '', new RegExp(`script-src ${issuer.replace(/[.]/g, '\\.')}/passkeys/;`), 'scripts from our folder only')
  const ticket = hiddenField(offerHtml, 'ticket')
  const options = await browser.send(`${base}/passkeys/enrol-options`, { ...page.fields, ticket })
  t.equal(options.status, 200, options.status === 200 ? 'options' : await options.clone().text())
  const creation = await options.json() as { challenge: string, user: { id: string, name: string }, authenticatorSelection: { userVerification: string, residentKey: string }, attestation: string }
  t.equal(creation.user.name, 'alice@example.com')
  t.same([creation.authenticatorSelection.userVerification, creation.authenticatorSelection.residentKey, creation.attestation], ['required', 'preferred', 'none'])
  const done = await browser.send(`${base}/passkeys/enrol`, { ...page.fields, ticket, name: 'Laptop <b>', response: JSON.stringify(authenticator.register(creation)) })
  const claims = await idTokenOf(base, done, page.verifier)
  t.same(claims.amr, ['pwd'], 'the sign-in that enrolled was a password sign-in')
}

t.test('passkeys through the built-in pages: enrol after a password, then sign in with the passkey only', async (t) => {
  const passkeys = new MemoryPasskeyStore()
  const { base, issuer } = await provider(t, { passkeys: { store: passkeys }, rateLimit: { loginFailures: 100 } })
  const authenticator = new SoftAuthenticator(issuer)
  await enrol(t, base, issuer, authenticator)
  const stored = await passkeys.listPasskeys('user-alice')
  t.equal(stored.length, 1)
  t.equal(stored[0]!.name, 'Laptop <b>', 'the name as typed (escaped where shown)')

  // A new browser: the login page offers the passkey, with autofill in the username field.
  const browser = new Browser(issuer)
  const page = await loginPage(browser, base)
  t.match(page.html, /autocomplete="username webauthn"/)
  t.match(page.html, /<script src="\/passkeys\/webauthn\.js"><\/script>/)
  t.notMatch(page.html, /<script>/, 'no inline script')
  const options = await passkeyOptions(browser, base, page)
  const response = authenticator.authenticate(options.challenge)
  const signedIn = await browser.send(`${base}/passkeys/login`, { ...page.fields, response: JSON.stringify(response) })
  const claims = await idTokenOf(base, signedIn, page.verifier)
  t.same(claims.amr, ['hwk', 'user'], 'RFC 8176: a device-bound key, user verified')
  t.equal(claims.acr, 'phrh')
  t.equal(claims.sub, 'user-alice')
  t.equal((await passkeys.findPasskey(authenticator.credentialId))?.counter, 1, 'the counter is stored')

  await t.test('a replayed response is refused', async (t) => {
    const again = await loginPage(browser, base)
    const replay = await browser.send(`${base}/passkeys/login`, { ...again.fields, response: JSON.stringify(response) })
    t.equal(replay.status, 400)
    t.match(await replay.text(), /expired/)
  })

  await t.test('a response for another challenge is refused', async (t) => {
    const again = await loginPage(browser, base)
    await passkeyOptions(browser, base, again)
    const other = await browser.send(`${base}/passkeys/login`, { ...again.fields, response: JSON.stringify(authenticator.authenticate('b3RoZXItY2hhbGxlbmdl')) })
    t.equal(other.status, 400)
    t.match(await other.text(), /could not be verified/)
  })

  await t.test('a counter that goes backwards (a cloned authenticator) is refused', async (t) => {
    const again = await loginPage(browser, base)
    const { challenge } = await passkeyOptions(browser, base, again)
    authenticator.counter = 0
    const cloned = await browser.send(`${base}/passkeys/login`, { ...again.fields, response: JSON.stringify(authenticator.authenticate(challenge)) })
    t.equal(cloned.status, 400)
    t.equal((await passkeys.findPasskey(authenticator.credentialId))?.counter, 1, 'nothing recorded')
    authenticator.counter = 5
  })

  await t.test('a passkey signed for another RP ID or origin is refused', async (t) => {
    for (const overrides of [{ rpId: 'evil.example' }, { origin: 'https://evil.example' }]) {
      const again = await loginPage(browser, base)
      const { challenge } = await passkeyOptions(browser, base, again)
      const foreign = await browser.send(`${base}/passkeys/login`, { ...again.fields, response: JSON.stringify(authenticator.authenticate(challenge, overrides)) })
      t.equal(foreign.status, 400, JSON.stringify(overrides))
    }
  })

  await t.test('an unknown credential and malformed responses are refused with a page, never a 500', async (t) => {
    const again = await loginPage(browser, base)
    const { challenge } = await passkeyOptions(browser, base, again)
    const unknown = await browser.send(`${base}/passkeys/login`, { ...again.fields, response: JSON.stringify(new SoftAuthenticator(issuer).authenticate(challenge)) })
    t.equal(unknown.status, 400)
    t.match(await unknown.text(), /not registered here/)
    for (const garbage of ['', 'not json', '{"id":1}', JSON.stringify({ id: 'A'.repeat(20), rawId: 'A'.repeat(20), type: 'public-key', response: { clientDataJSON: '!!' } }), 'x'.repeat(30_000)]) {
      const page = await loginPage(browser, base)
      await passkeyOptions(browser, base, page)
      const bad = await browser.send(`${base}/passkeys/login`, { ...page.fields, response: garbage })
      t.equal(bad.status, 400, `${garbage.slice(0, 30)} → 400`)
    }
  })

  await t.test('a cross-site post is refused', async (t) => {
    const again = await loginPage(browser, base)
    const response = await fetch(`${base}/passkeys/login-options`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
      body: new URLSearchParams(again.fields).toString(),
    })
    t.equal(response.status, 403)
  })
})

t.test('a synced passkey reports swk and phr; the host API lists, renames and removes', async (t) => {
  const passkeys = new MemoryPasskeyStore()
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const app = Fastify({ logger: false })
  await app.register(oidcProvider, { issuer, keys, cookieSecret: 's'.repeat(32), users, clients: [client], passkeys: { store: passkeys, acr: { synced: 'urn:acme:passkey' } } })
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const authenticator = new SoftAuthenticator(issuer, undefined, { synced: true })
  await enrol(t, issuer, issuer, authenticator)
  const browser = new Browser(issuer)
  const page = await loginPage(browser, issuer)
  const { challenge } = await passkeyOptions(browser, issuer, page)
  const claims = await idTokenOf(issuer, await browser.send(`${issuer}/passkeys/login`, { ...page.fields, response: JSON.stringify(authenticator.authenticate(challenge)) }), page.verifier)
  t.same(claims.amr, ['swk', 'user'])
  t.equal(claims.acr, 'urn:acme:passkey')
  const [listed] = await app.oidc.passkeys.list('user-alice')
  t.equal(listed!.deviceType, 'multiDevice')
  t.equal(listed!.backedUp, true)
  t.type(listed!.lastUsedAt, 'number')
  t.notOk('publicKey' in listed!, 'the public key is not shown')
  t.equal(await app.oidc.passkeys.rename('user-alice', listed!.credentialId, 'Phone'), true)
  await t.rejects(app.oidc.passkeys.rename('user-alice', listed!.credentialId, ''), /1 to 64/)
  t.equal(await app.oidc.passkeys.remove('someone-else', listed!.credentialId), false)
  t.equal(await app.oidc.passkeys.remove('user-alice', listed!.credentialId), true)
  t.same(await app.oidc.passkeys.list('user-alice'), [])
})

t.test('failed passkey sign-ins count on the login limiter: past the limit, 429 even for a good passkey', async (t) => {
  const { base, issuer } = await provider(t, { passkeys: { store: new MemoryPasskeyStore() }, rateLimit: { loginFailures: 3 } })
  const browser = new Browser(issuer)
  const stranger = new SoftAuthenticator(issuer)
  const statuses: number[] = []
  for (let i = 0; i < 4; i++) {
    const page = await loginPage(browser, base)
    const { challenge } = await passkeyOptions(browser, base, page)
    const response = await browser.send(`${base}/passkeys/login`, { ...page.fields, response: JSON.stringify(stranger.authenticate(challenge)) })
    statuses.push(response.status)
    if (response.status === 429) t.ok(Number(response.headers.get('retry-after')) > 0, 'Retry-After')
  }
  t.same(statuses, [400, 400, 400, 429])
})

t.test('two instances on Redis share passkeys and challenges: one use, wherever it lands', async (t) => {
  const redis = await requireRedis(t)
  if (redis === undefined) return
  const prefix = testPrefix()
  t.teardown(async () => { await deleteKeys(redis, prefix) })
  const shared = (): Partial<OidcProviderOptions> => ({ store: new RedisStore({ client: redis, prefix }), passkeys: { store: new RedisPasskeyStore({ client: redis, prefix }) } })
  const a = await provider(t, shared())
  const b = await provider(t, shared(), a.issuer)
  const authenticator = new SoftAuthenticator(a.issuer)
  await enrol(t, a.base, a.issuer, authenticator)

  const browser = new Browser(a.issuer)
  const page = await loginPage(browser, a.base)
  const { challenge } = await passkeyOptions(browser, a.base, page)
  const response = JSON.stringify(authenticator.authenticate(challenge))
  // The same response posted to both instances at once: one sign-in.
  const [onA, onB] = await Promise.all([
    browser.send(`${a.base}/passkeys/login`, { ...page.fields, response }),
    browser.send(`${b.base}/passkeys/login`, { ...page.fields, response }),
  ])
  t.same([onA.status, onB.status].sort(), [303, 400], 'one winner across instances')
})

t.test('options are checked at register', async (t) => {
  const build = async (passkeys: unknown): Promise<unknown> => {
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    await app.register(oidcProvider, { issuer: 'https://id.example.com', keys, store: new MemoryStore(), passkeys } as OidcProviderOptions)
    return await app.ready()
  }
  await t.rejects(build({ store: {} }), /passkeys\.store.*createPasskey/)
  await t.rejects(build({ store: new MemoryPasskeyStore(), rpId: 'other.com' }), /passkeys\.rpId.*id\.example\.com/)
  await t.rejects(build({ store: new MemoryPasskeyStore(), rpid: 'example.com' }), /rpid/)
  await t.resolves(build({ store: new MemoryPasskeyStore(), rpId: 'example.com' }))
})
