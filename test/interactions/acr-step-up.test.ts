import t from 'tap'
import Fastify from 'fastify'
import { decodeJwt } from 'jose'
import { MemoryPasskeyStore, oidcProvider, staticUsers } from '../../lib/index.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { hiddenField, pkcePair } from '../helpers/flow.js'
import { freePort } from '../helpers/server.js'
import { testKeys } from '../helpers/keys.js'

/*
 * Step-up by `acr_values` (OIDC Core §3.1.2.1) and an essential `acr` claim (§5.5.1.1) over real
 * HTTP: a password session is not reused for a passkey's class (a new sign-in, or
 * `login_required` with prompt=none); a passkey session is; an essential class a login did not
 * reach ends in `unmet_authentication_requirements`.
 */
const REDIRECT = 'https://app.example/callback'
const client = { client_id: 'web', client_secret: 'web-secret-0123456789abcdef', redirect_uris: [REDIRECT], scope: 'openid profile', first_party: true }
const users = staticUsers([{ username: 'alice', password: 'alice-password', sub: 'user-alice', claims: { email: 'alice@example.com' } }])

/** A browser over fetch: cookies, and the Origin header a same-origin form carries. */
class Browser {
  readonly cookies = new Map<string, string>()
  /** `base`: where the socket is; `origin`: the issuer's, which a same-origin form sends. */
  constructor (readonly base: string, readonly origin: string) {}

  async send (url: string, form?: Record<string, string>): Promise<Response> {
    const headers: Record<string, string> = { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') }
    if (form !== undefined) Object.assign(headers, { 'content-type': 'application/x-www-form-urlencoded', origin: this.origin })
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

  /** GET /authorize with these extra parameters: the response and the PKCE verifier. */
  async authorize (params: Record<string, string> = {}): Promise<{ response: Response, verifier: string }> {
    const { verifier, challenge } = pkcePair()
    const url = new URL(`${this.base}/authorize`)
    url.search = new URLSearchParams({ client_id: client.client_id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', state: 's', nonce: crypto.randomUUID(), code_challenge: challenge, code_challenge_method: 'S256', ...params }).toString()
    return { response: await this.send(url.href), verifier }
  }
}

const fieldsOf = (html: string): { interaction_id: string, csrf_token: string } => ({ interaction_id: hiddenField(html, 'interaction_id'), csrf_token: hiddenField(html, 'csrf_token') })

/** The redirect to the client: its query (code, or error). */
function callback (response: Response): URLSearchParams {
  const location = response.headers.get('location')
  if ((response.status !== 302 && response.status !== 303) || location === null || !location.startsWith(REDIRECT)) throw new Error(`expected a redirect to the client, got ${response.status} ${location ?? ''}`)
  return new URL(location).searchParams
}

async function idToken (base: string, response: Response, verifier: string): Promise<Record<string, unknown>> {
  const code = callback(response).get('code')
  if (code === null) throw new Error(`no code: ${callback(response).toString()}`)
  const token = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }).toString(),
  })
  return decodeJwt(((await token.json()) as { id_token: string }).id_token)
}

t.test('step-up to a passkey by acr_values and by an essential acr claim', async (t) => {
  // WebAuthn needs a domain: the issuer is `localhost`, the socket 127.0.0.1.
  const port = await freePort()
  const issuer = `http://localhost:${port}`
  const base = `http://127.0.0.1:${port}`
  const app = Fastify({ logger: false })
  await app.register(oidcProvider, { issuer, keys: testKeys(), cookieSecret: 's'.repeat(32), users, clients: [client], passkeys: { store: new MemoryPasskeyStore() } })
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const authenticator = new SoftAuthenticator(issuer)

  const discovery = await (await fetch(`${base}/.well-known/openid-configuration`)).json() as Record<string, unknown>
  t.same(discovery.acr_values_supported, ['phrh', 'phr'], 'discovery names the passkey classes, strongest first')

  // A password sign-in that enrols a passkey on the offer: the session's amr is ["pwd"], no acr.
  const browser = new Browser(base, issuer)
  const first = await browser.authorize()
  const page = fieldsOf(await first.response.text())
  const offer = await browser.send(`${base}/authorize`, { ...page, username: 'alice', password: 'alice-password' })
  const ticket = hiddenField(await offer.text(), 'ticket')
  const creation = await (await browser.send(`${base}/passkeys/enrol-options`, { ...page, ticket })).json() as { challenge: string, user: { id: string } }
  const enrolled = await browser.send(`${base}/passkeys/enrol`, { ...page, ticket, response: JSON.stringify(authenticator.register(creation)) })
  const password = await idToken(base, enrolled, first.verifier)
  t.same(password.amr, ['pwd'])
  t.equal(password.acr, undefined)

  await t.test('a password session is reused when no class is asked for, or only a class we do not know', async (t) => {
    const plain = await browser.authorize()
    t.ok(callback(plain.response).has('code'), 'SSO')
    const unknown = await browser.authorize({ acr_values: 'urn:example:unknown' })
    const claims = await idToken(base, unknown.response, unknown.verifier)
    t.equal(claims.acr, '0', 'acr_values is voluntary: the ID token says what was done (defaultAcr)')
    const zero = await browser.authorize({ claims: JSON.stringify({ id_token: { acr: { essential: true, value: '0' } } }), prompt: 'none' })
    t.equal((await idToken(base, zero.response, zero.verifier)).acr, '0', 'an essential "0" (defaultAcr) is what a password session reached')
  })

  await t.test('acr_values=phr on a password session: prompt=none answers login_required, otherwise the login page', async (t) => {
    const silent = await browser.authorize({ acr_values: 'phr', prompt: 'none' })
    const query = callback(silent.response)
    t.equal(query.get('error'), 'login_required')
    t.equal(query.get('code'), null, 'no code for the weaker session')
    const claim = JSON.stringify({ id_token: { acr: { essential: true, values: ['phrh'] } } })
    const silentClaim = await browser.authorize({ claims: claim, prompt: 'none' })
    t.equal(callback(silentClaim.response).get('error'), 'login_required', 'an essential acr claim steps up the same way')
    const voluntaryClaim = await browser.authorize({ claims: JSON.stringify({ id_token: { acr: { values: ['phr'] } } }), prompt: 'none' })
    t.equal(callback(voluntaryClaim.response).get('error'), 'login_required', 'and a voluntary acr claim with values, as acr_values')
    const shown = await browser.authorize({ acr_values: 'phr' })
    t.equal(shown.response.status, 200, 'the login page, not the silent reuse')
    t.match(await shown.response.text(), /id="passkey-button"/, 'with the passkey to sign in with')
  })

  await t.test('the essential acr claim, and a password login again: unmet_authentication_requirements', async (t) => {
    const claim = JSON.stringify({ id_token: { acr: { essential: true, value: 'phr' } } })
    const { response } = await browser.authorize({ claims: claim })
    t.equal(response.status, 200, 'the login page')
    const fields = fieldsOf(await response.text())
    const login = await browser.send(`${base}/authorize`, { ...fields, username: 'alice', password: 'alice-password' })
    const query = callback(login)
    t.equal(query.get('error'), 'unmet_authentication_requirements', 'OIDC Core §5.5.1.1: a failed authentication')
    t.equal(query.get('code'), null)
    t.equal(query.get('state'), 's')
  })

  await t.test('the passkey steps up; its session then satisfies phrh and phr without a new sign-in', async (t) => {
    const { response, verifier } = await browser.authorize({ acr_values: 'phrh phr' })
    const fields = fieldsOf(await response.text())
    const options = await (await browser.send(`${base}/passkeys/login-options`, fields)).json() as { challenge: string }
    const signedIn = await browser.send(`${base}/passkeys/login`, { ...fields, response: JSON.stringify(authenticator.authenticate(options.challenge)) })
    const claims = await idToken(base, signedIn, verifier)
    t.same(claims.amr, ['hwk', 'user'])
    t.equal(claims.acr, 'phrh')
    const passkeyAuthTime = claims.auth_time

    const again = await browser.authorize({ acr_values: 'phr', prompt: 'none' })
    const reused = await idToken(base, again.response, again.verifier)
    t.equal(reused.acr, 'phrh', 'a device-bound passkey satisfies the synced class too')
    t.equal(reused.auth_time, passkeyAuthTime, 'the same sign-in, reused silently')
    const essential = await browser.authorize({ claims: JSON.stringify({ id_token: { acr: { essential: true, values: ['phrh'] } } }), max_age: '3600', prompt: 'none' })
    t.equal((await idToken(base, essential.response, essential.verifier)).acr, 'phrh', 'an essential phrh within max_age: reused')
  })
})
