import t, { type Test } from 'tap'
import { createLocalJWKSet, jwtVerify, UnsecuredJWT, type JWTPayload, type JSONWebKeySet } from 'jose'
import { staticUsers, type StaticClient } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'
import { HttpBrowser } from '../helpers/http-browser.js'
import { hiddenField, pkcePair } from '../helpers/flow.js'
import { parseFormPost } from '../helpers/form-post.js'

/*
 * The OpenID Foundation conformance suite's Basic OP plan (`oidcc-basic-certification-test-plan`,
 * OIDCCBasicTestPlan.java), one subtest per module, each in the `query` (the plan's `default`)
 * and `form_post` (the Form Post Basic plan: the same modules with response_mode=form_post)
 * response modes, errors included. The provider is configured as a host preparing a
 * certification run would (docs/certification.md): static clients with `pkce: 'optional'` (the
 * suite sends PKCE in one module only), unsigned request objects allowed. What the suite's
 * browser does, HttpBrowser does over real HTTP; what its RP checks, the assertions check.
 * One provider and one signed-in browser for the file; a fresh browser where a module needs
 * no session.
 */

const users = staticUsers([{
  username: 'demo',
  password: 'demo',
  sub: 'demo',
  cost: { N: 1024 },
  claims: {
    name: 'Demo User',
    given_name: 'Demo',
    family_name: 'User',
    email: 'demo@example.com',
    email_verified: true,
    phone_number: '+1 555 0100',
    phone_number_verified: true,
    address: { street_address: '1 Main St', locality: 'Springfield', country: 'US' },
  },
}])
const credentials = { username: 'demo', password: 'demo' }

const RP = 'https://rp.certification.example/callback'
const basicClient: StaticClient = {
  client_id: 'cert-basic',
  client_secret: 'cert-basic-secret-0123456789abcdef',
  redirect_uris: [RP],
  grant_types: ['authorization_code', 'refresh_token'],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'openid profile email address phone offline_access',
  pkce: 'optional',
}
const postClient: StaticClient = { ...basicClient, client_id: 'cert-post', client_secret: 'cert-post-secret-0123456789abcdef', token_endpoint_auth_method: 'client_secret_post' }

const { issuer } = await startServer(t, {
  users,
  clients: [basicClient, postClient],
  requestObjects: { allowUnsigned: true },
})
const jwks = createLocalJWKSet(await (await fetch(`${issuer}/jwks.json`)).json() as JSONWebKeySet)
const browser = new HttpBrowser()
const modes = ['query', 'form_post'] as const
type Mode = typeof modes[number]

/** What the RP received: the response parameters and how they came, or the provider's error page. */
interface Outcome {
  mode?: 'query' | 'form_post'
  target?: string
  params: Record<string, string>
  page?: { status: number, body: string }
  sawLogin: boolean
  loginPage?: string
}

/**
 * Drives an authorization request like the suite's browser: follows the provider's redirects,
 * signs in and consents when asked, and stops at what reaches the RP (a redirect to it, or a
 * form_post page, read as the form it auto-submits) or at an error page.
 */
async function drive (t: Test, who: HttpBrowser, url: string, init: RequestInit = {}): Promise<Outcome> {
  let response = await who.send(url, init)
  let current = url
  const outcome: Outcome = { params: {}, sawLogin: false }
  for (let step = 0; step < 8; step++) {
    if (response.status === 302 || response.status === 303) {
      const location = new URL(response.headers.get('location')!, current)
      if (location.origin === issuer && /\/(authorize|consent)$/.test(location.pathname)) {
        current = location.href
        response = await who.send(current)
        continue
      }
      const params = Object.fromEntries(location.searchParams)
      location.search = ''
      return { ...outcome, mode: 'query', target: location.href, params }
    }
    const body = await response.text()
    if (response.status === 200 && body.includes('name="interaction_id"')) {
      const isLogin = body.includes('name="password"')
      if (isLogin) {
        outcome.sawLogin = true
        outcome.loginPage = body
      }
      const fields = { interaction_id: hiddenField(body, 'interaction_id'), csrf_token: hiddenField(body, 'csrf_token') }
      current = new URL(/action="([^"]+)"/.exec(body)![1]!, current).href
      response = await who.send(current, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(isLogin ? { ...fields, ...credentials } : { ...fields, decision: 'approve' }).toString(),
      })
      continue
    }
    if (response.status === 200 && /<form\b[^>]*method="post"/i.test(body)) {
      t.equal(response.headers.get('cache-control'), 'no-store', 'a form_post page is never cached')
      const form = parseFormPost(body)
      return { ...outcome, mode: 'form_post', target: form.action, params: form.fields }
    }
    return { ...outcome, page: { status: response.status, body } }
  }
  throw new Error('no answer for the RP')
}

function authorizeUrl (mode: Mode, params: Record<string, string>, client: StaticClient = basicClient): string {
  const query = new URLSearchParams({ client_id: client.client_id, redirect_uri: RP, response_type: 'code', scope: 'openid', state: `st-${mode}`, nonce: `n-${crypto.randomUUID()}`, ...params })
  if (mode === 'form_post') query.set('response_mode', 'form_post')
  for (const [name, value] of [...query]) if (value === '') query.delete(name)
  return `${issuer}/authorize?${query}`
}

/** The RP's side of a successful response: in the requested mode, to the redirect URI, with state and iss (RFC 9207). */
function expectCode (t: Test, outcome: Outcome, mode: Mode): string {
  t.equal(outcome.page, undefined, outcome.page === undefined ? 'no error page' : outcome.page.body.slice(0, 300))
  t.equal(outcome.mode, mode, `the response came by ${mode}`)
  t.equal(outcome.target, RP)
  t.equal(outcome.params.error, undefined, outcome.params.error_description ?? 'no error')
  t.equal(outcome.params.iss, issuer, 'iss (RFC 9207)')
  t.type(outcome.params.code, 'string')
  return outcome.params.code ?? ''
}

/** An error response: in the requested mode (a form_post error is a POSTed form, never a query), with iss. */
function expectError (t: Test, outcome: Outcome, mode: Mode, error: string): void {
  t.equal(outcome.mode, mode, `the error came by ${mode}`)
  t.equal(outcome.target, RP)
  t.equal(outcome.params.error, error)
  t.equal(outcome.params.iss, issuer)
  t.notOk('code' in outcome.params)
}

interface Tokens { access_token: string, id_token: string, refresh_token?: string, claims: JWTPayload }

async function redeem (t: Test, code: string, options: { client?: StaticClient, verifier?: string } = {}): Promise<Tokens> {
  const client = options.client ?? basicClient
  const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: RP, ...(options.verifier === undefined ? {} : { code_verifier: options.verifier }) })
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
  if (client.token_endpoint_auth_method === 'client_secret_post') {
    body.set('client_id', client.client_id)
    body.set('client_secret', client.client_secret!)
  } else {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret!)}`).toString('base64')}`
  }
  const res = await fetch(`${issuer}/token`, { method: 'POST', headers, body })
  const json = await res.json() as Tokens & { error?: string }
  t.equal(res.status, 200, json.error ?? 'tokens')
  t.equal(res.headers.get('cache-control'), 'no-store')
  const { payload, protectedHeader } = await jwtVerify(json.id_token, jwks, { issuer, audience: client.client_id })
  t.equal(protectedHeader.alg, 'RS256')
  t.type(protectedHeader.kid, 'string', 'kid in the header (oidcc-idtoken-signature)')
  return { ...json, claims: payload }
}

async function userinfo (t: Test, how: 'get' | 'post-header' | 'post-body', accessToken: string): Promise<Record<string, unknown>> {
  const url = `${issuer}/userinfo`
  const res = how === 'get'
    ? await fetch(url, { headers: { authorization: `Bearer ${accessToken}` } })
    : how === 'post-header'
      ? await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } })
      : await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ access_token: accessToken }) })
  t.equal(res.status, 200, `userinfo ${how}`)
  return await res.json() as Record<string, unknown>
}

/** A module: one subtest, with one subtest per response mode. */
function module (name: string, run: (t: Test, mode: Mode) => Promise<void>): void {
  t.test(name, async (t) => {
    for (const mode of modes) await t.test(mode, async (t) => { await run(t, mode) })
  })
}

/** A code flow in this mode with the shared browser; returns the tokens. */
async function codeFlow (t: Test, mode: Mode, params: Record<string, string> = {}, client: StaticClient = basicClient): Promise<Tokens> {
  return await redeem(t, expectCode(t, await drive(t, browser, authorizeUrl(mode, params, client)), mode), { client })
}

// OP-Response-code (and the ID token checks of OIDCCServerTest).
module('oidcc-server', async (t, mode) => {
  const outcome = await drive(t, browser, authorizeUrl(mode, { nonce: 'server-nonce-' + mode }))
  const tokens = await redeem(t, expectCode(t, outcome, mode))
  t.equal(outcome.params.state, `st-${mode}`, 'state comes back')
  t.equal(tokens.claims.nonce, 'server-nonce-' + mode)
  t.equal(tokens.claims.sub, 'demo')
  t.type(tokens.claims.auth_time, 'number')
  t.type(tokens.claims.at_hash, 'string')
})

module('oidcc-response-type-missing', async (t, mode) => {
  expectError(t, await drive(t, browser, authorizeUrl(mode, { response_type: '' })), mode, 'invalid_request')
})

module('oidcc-idtoken-signature', async (t, mode) => {
  const tokens = await codeFlow(t, mode)
  t.ok(tokens.claims.iat, 'verified against the published JWKS')
})

module('oidcc-idtoken-unsigned', async (t) => {
  // The suite skips it when discovery does not list `none`: unsigned ID tokens are refused by design.
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json() as Record<string, string[]>
  t.notOk(discovery.id_token_signing_alg_values_supported!.includes('none'), 'none is not offered')
})

for (const how of ['get', 'post-header', 'post-body'] as const) {
  module(`oidcc-userinfo-${how}`, async (t, mode) => {
    const tokens = await codeFlow(t, mode)
    t.equal((await userinfo(t, how, tokens.access_token)).sub, 'demo')
  })
}

module('oidcc-ensure-request-without-nonce-succeeds-for-code-flow', async (t, mode) => {
  // Neither nonce nor PKCE: the client's `pkce: 'optional'`.
  const tokens = await codeFlow(t, mode, { nonce: '' })
  t.notOk('nonce' in tokens.claims)
})

const scopeClaims: Record<string, string[]> = {
  profile: ['name', 'given_name', 'family_name'],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
}
for (const scope of ['profile', 'email', 'address', 'phone', 'all']) {
  module(`oidcc-scope-${scope}`, async (t, mode) => {
    const scopes = scope === 'all' ? Object.keys(scopeClaims) : [scope]
    const tokens = await codeFlow(t, mode, { scope: `openid ${scopes.join(' ')}` })
    const info = await userinfo(t, 'get', tokens.access_token)
    for (const claim of scopes.flatMap((name) => scopeClaims[name]!)) t.ok(claim in info, `${claim} at userinfo`)
  })
}

module('oidcc-ensure-other-scope-order-succeeds', async (t, mode) => {
  const tokens = await codeFlow(t, mode, { scope: 'email openid' })
  t.equal((await userinfo(t, 'get', tokens.access_token)).email, 'demo@example.com')
})

for (const display of ['page', 'popup']) {
  module(`oidcc-display-${display}`, async (t, mode) => {
    await codeFlow(t, mode, { display })
  })
}

module('oidcc-prompt-login', async (t, mode) => {
  const first = await codeFlow(t, mode)
  const again = await drive(t, browser, authorizeUrl(mode, { prompt: 'login' }))
  t.ok(again.sawLogin, 'the login page is shown although a session exists')
  const tokens = await redeem(t, expectCode(t, again, mode))
  t.ok((tokens.claims.auth_time as number) >= (first.claims.auth_time as number), 'a new auth_time')
})

module('oidcc-prompt-none-not-logged-in', async (t, mode) => {
  expectError(t, await drive(t, new HttpBrowser(), authorizeUrl(mode, { prompt: 'none' })), mode, 'login_required')
})

module('oidcc-prompt-none-logged-in', async (t, mode) => {
  const outcome = await drive(t, browser, authorizeUrl(mode, { prompt: 'none' }))
  t.notOk(outcome.sawLogin)
  await redeem(t, expectCode(t, outcome, mode))
})

t.test('oidcc-max-age-1', async (t) => {
  // One browser per mode, signed in now; one wait past max_age for both (auth_time has
  // second granularity: more than one second must have passed).
  const browsers = { query: new HttpBrowser(), form_post: new HttpBrowser() }
  let authTime = 0
  for (const mode of modes) {
    const tokens = await redeem(t, expectCode(t, await drive(t, browsers[mode], authorizeUrl(mode, {})), mode))
    authTime = Math.max(authTime, tokens.claims.auth_time as number)
  }
  while (Date.now() / 1000 < authTime + 2) await new Promise((resolve) => setTimeout(resolve, 100))
  for (const mode of modes) {
    await t.test(mode, async (t) => {
      const outcome = await drive(t, browsers[mode], authorizeUrl(mode, { max_age: '1' }))
      t.ok(outcome.sawLogin, 'the session is older than max_age: login again')
      const tokens = await redeem(t, expectCode(t, outcome, mode))
      t.ok((tokens.claims.auth_time as number) > authTime - 1, 'auth_time of the new login')
    })
  }
})

module('oidcc-max-age-10000', async (t, mode) => {
  const outcome = await drive(t, browser, authorizeUrl(mode, { max_age: '10000' }))
  t.notOk(outcome.sawLogin, 'the session is young enough')
  const tokens = await redeem(t, expectCode(t, outcome, mode))
  t.type(tokens.claims.auth_time, 'number', 'auth_time is required with max_age')
})

module('oidcc-ensure-request-with-unknown-parameter-succeeds', async (t, mode) => {
  await codeFlow(t, mode, { extra_parameter_not_understood: 'ignored' })
})

module('oidcc-id-token-hint', async (t, mode) => {
  const first = await codeFlow(t, mode)
  const outcome = await drive(t, browser, authorizeUrl(mode, { prompt: 'none', id_token_hint: first.id_token }))
  const tokens = await redeem(t, expectCode(t, outcome, mode))
  t.equal(tokens.claims.sub, first.claims.sub)
})

module('oidcc-login-hint', async (t, mode) => {
  const hint = 'demo"><script>x</script>'
  const outcome = await drive(t, new HttpBrowser(), authorizeUrl(mode, { login_hint: hint }))
  t.ok(outcome.sawLogin)
  t.match(outcome.loginPage, /value="demo&#34;&gt;&lt;script&gt;x&lt;\/script&gt;"|value="demo&quot;&gt;&lt;script&gt;x&lt;\/script&gt;"/, 'the login page is prefilled with the hint, escaped')
  t.notMatch(outcome.loginPage, /<script>x<\/script>/)
  await redeem(t, expectCode(t, outcome, mode))
})

module('oidcc-ui-locales', async (t, mode) => {
  const outcome = await drive(t, new HttpBrowser(), authorizeUrl(mode, { ui_locales: 'fr-CA fr en' }))
  t.match(outcome.loginPage, /<html lang="fr"/, 'the login page in the first supported language')
  await redeem(t, expectCode(t, outcome, mode))
})

module('oidcc-claims-locales', async (t, mode) => {
  await codeFlow(t, mode, { claims_locales: 'fr en' })
})

module('oidcc-ensure-request-with-acr-values-succeeds', async (t, mode) => {
  const tokens = await codeFlow(t, mode, { acr_values: '1 2' })
  t.equal(tokens.claims.acr, '0', 'the acr of what happened (the host\'s defaultAcr: the login stated none)')
})

for (const name of ['oidcc-codereuse', 'oidcc-codereuse-30seconds']) {
  // The 30-second variant checks that the tokens of the first redemption are revoked by the
  // reuse; there is no wait to make here, the revocation is immediate.
  module(name, async (t, mode) => {
    const code = expectCode(t, await drive(t, browser, authorizeUrl(mode, {})), mode)
    const tokens = await redeem(t, code)
    const again = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${basicClient.client_id}:${basicClient.client_secret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: RP }),
    })
    t.equal(again.status, 400)
    t.equal((await again.json() as { error: string }).error, 'invalid_grant')
    const revoked = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
    t.equal(revoked.status, 401, 'the first redemption\'s access token is revoked')
  })
}

module('oidcc-ensure-registered-redirect-uri', async (t, mode) => {
  const outcome = await drive(t, browser, authorizeUrl(mode, { redirect_uri: 'https://rp.certification.example/not-registered' }))
  t.equal(outcome.page?.status, 400, 'an error page at the provider, never a response to the unregistered URI')
  t.equal(outcome.mode, undefined)
})

module('oidcc-ensure-post-request-succeeds', async (t, mode) => {
  const url = new URL(authorizeUrl(mode, {}))
  const outcome = await drive(t, browser, `${issuer}/authorize`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: url.searchParams.toString(),
  })
  await redeem(t, expectCode(t, outcome, mode))
})

module('oidcc-server-client-secret-post', async (t, mode) => {
  await codeFlow(t, mode, {}, postClient)
})

module('oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported', async (t, mode) => {
  // request_uri_parameter_supported is false: only PAR request URIs, never fetched.
  expectError(t, await drive(t, browser, authorizeUrl(mode, { request_uri: 'https://rp.certification.example/request.jwt' })), mode, 'request_uri_not_supported')
})

/** The suite's request object: the authorization parameters as claims, with iss and aud, alg none. */
function unsignedObject (mode: Mode, extra: Record<string, string> = {}): string {
  return new UnsecuredJWT({
    iss: basicClient.client_id,
    aud: issuer,
    client_id: basicClient.client_id,
    redirect_uri: RP,
    response_type: 'code',
    scope: 'openid',
    state: `object-${mode}`,
    nonce: `n-${crypto.randomUUID()}`,
    ...(mode === 'form_post' ? { response_mode: 'form_post' } : {}),
    ...extra,
  }).encode()
}

module('oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported', async (t, mode) => {
  const outcome = await drive(t, browser, `${issuer}/authorize?${new URLSearchParams({ client_id: basicClient.client_id, response_type: 'code', scope: 'openid', redirect_uri: RP, request: unsignedObject(mode) })}`)
  await redeem(t, expectCode(t, outcome, mode))
  t.equal(outcome.params.state, `object-${mode}`, 'the object was processed (its state)')
})

module('oidcc-claims-essential', async (t, mode) => {
  const tokens = await codeFlow(t, mode, { claims: JSON.stringify({ userinfo: { name: { essential: true } } }) })
  t.equal((await userinfo(t, 'get', tokens.access_token)).name, 'Demo User')
})

module('oidcc-ensure-request-object-with-redirect-uri', async (t, mode) => {
  // The outside redirect_uri is not registered; the object's wins (OIDC Core §6.3.3).
  const outcome = await drive(t, browser, `${issuer}/authorize?${new URLSearchParams({ client_id: basicClient.client_id, response_type: 'code', scope: 'openid', redirect_uri: 'https://rp.certification.example/invalid', request: unsignedObject(mode) })}`)
  await redeem(t, expectCode(t, outcome, mode))
})

module('oidcc-refresh-token', async (t, mode) => {
  const tokens = await codeFlow(t, mode, { scope: 'openid offline_access', prompt: 'consent' })
  t.type(tokens.refresh_token, 'string')
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${basicClient.client_id}:${basicClient.client_secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }),
  })
  t.equal(res.status, 200)
  const refreshed = await res.json() as { id_token: string }
  const { payload } = await jwtVerify(refreshed.id_token, jwks, { issuer, audience: basicClient.client_id })
  t.equal(payload.sub, tokens.claims.sub, 'same sub after refresh (OIDC Core §12.2)')
})

module('oidcc-ensure-request-with-valid-pkce-succeeds', async (t, mode) => {
  const { verifier, challenge } = pkcePair()
  const code = expectCode(t, await drive(t, browser, authorizeUrl(mode, { code_challenge: challenge, code_challenge_method: 'S256' })), mode)
  await redeem(t, code, { verifier })
})
