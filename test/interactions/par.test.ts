import t from 'tap'
import * as client from 'openid-client'
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose'
import type { FastifyInstance } from 'fastify'
import { MemoryStore, type OidcProviderOptions } from '../../lib/index.js'
import { sha256 } from '../../lib/tokens/crypto.js'
import { startServer } from '../helpers/server.js'
import { buildApp } from '../helpers/app.js'
import { testUsers } from '../helpers/users.js'
import { HttpBrowser } from '../helpers/http-browser.js'
import { basic, CONFIDENTIAL, OTHER, PUBLIC_ID, REDIRECT_URI, jwtClaims, postForm, testClients, testScopes } from '../helpers/codes.js'
import { pkcePair } from '../helpers/flow.js'
import { deleteKeys, REDIS_URL, requireRedis, testPrefix } from '../helpers/redis.js'
import { startInstance } from '../helpers/redis-instances.js'

const urnPrefix = 'urn:ietf:params:oauth:request_uri:'
const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
const clientJwk = await exportJWK(publicKey)
const clientKid = await calculateJwkThumbprint(clientJwk)

const parClients = [
  ...testClients(),
  { client_id: 'par-only', client_secret: 'par-only-secret-0123456789', redirect_uris: [REDIRECT_URI], scope: 'openid profile', require_pushed_authorization_requests: true },
  { client_id: 'par-keys', token_endpoint_auth_method: 'private_key_jwt' as const, jwks: { keys: [{ ...clientJwk, kid: clientKid }] }, redirect_uris: [REDIRECT_URI], scope: 'openid profile' },
]

async function setup (t: { teardown (fn: () => unknown): void }, options: Partial<OidcProviderOptions> = {}) {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const server = await startServer(t, { store, clients: parClients, users: testUsers, scopes: testScopes, ...options })
  const discover = async (clientId: string, auth: client.ClientAuth) => await client.discovery(new URL(server.issuer), clientId, {}, auth, { execute: [client.allowInsecureRequests] })
  return { ...server, store, discover }
}

function authorizationParams (): Record<string, string> {
  return { redirect_uri: REDIRECT_URI, scope: 'openid profile', code_challenge: pkcePair().challenge, code_challenge_method: 'S256', state: 'st-par' }
}

async function pushedFlow (config: client.Configuration, options: { DPoP?: client.DPoPHandle } = {}) {
  const verifier = client.randomPKCECodeVerifier()
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'st-par',
  }, options)
  const back = await new HttpBrowser().authorize(url, { username: 'demo', password: 'demo' })
  return { url, back, tokens: await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: 'st-par', idTokenExpected: true }, undefined, options) }
}

t.test('openid-client buildAuthorizationUrlWithPAR: pushed code flows with a secret, private_key_jwt, a public client and DPoP', async (t) => {
  const { issuer, discover } = await setup(t)
  const metadata = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>
  t.equal(metadata.pushed_authorization_request_endpoint, `${issuer}/par`)
  t.equal(metadata.require_pushed_authorization_requests, false)

  for (const [clientId, auth] of [
    [CONFIDENTIAL.client_id, client.ClientSecretBasic(CONFIDENTIAL.client_secret)],
    ['par-keys', client.PrivateKeyJwt({ key: privateKey, kid: clientKid })],
    ['par-only', client.ClientSecretPost('par-only-secret-0123456789')],
    [PUBLIC_ID, client.None()],
  ] as const) {
    const config = await discover(clientId, auth)
    const { url, tokens } = await pushedFlow(config)
    t.same([...url.searchParams.keys()].sort(), ['client_id', 'request_uri'], `${clientId}: the browser only sees client_id and request_uri`)
    t.ok(url.searchParams.get('request_uri')?.startsWith(urnPrefix))
    t.equal(tokens.claims()?.aud, clientId, `${clientId}: tokens for the pushed request`)
  }

  const config = await discover(PUBLIC_ID, client.None())
  const handle = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'))
  const { tokens } = await pushedFlow(config, { DPoP: handle })
  t.same(jwtClaims(tokens.access_token).cnf, { jkt: await handle.calculateThumbprint() }, 'a DPoP proof at PAR binds the code to its key')
})

t.test('request_uri: single use, expiring, only with client_id, only for the client that pushed it', async (t) => {
  const { issuer, store } = await setup(t)
  const push = async (fields: Record<string, string> = {}, auth = basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret)) =>
    await fetch(`${issuer}/par`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
      body: new URLSearchParams({ response_type: 'code', ...authorizationParams(), ...fields }).toString(),
    })
  const pushed = await push()
  t.equal(pushed.status, 201)
  t.equal(pushed.headers.get('cache-control'), 'no-store')
  const body = await pushed.json() as { request_uri: string, expires_in: number }
  t.match(body.request_uri, /^urn:ietf:params:oauth:request_uri:[\w-]{43}$/)
  t.ok(body.expires_in > 0 && body.expires_in < 60, 'expires in under a minute by default')

  const authorize = async (query: Record<string, string>) => await fetch(`${issuer}/authorize?${new URLSearchParams(query)}`, { redirect: 'manual' })
  const extra = await authorize({ client_id: CONFIDENTIAL.client_id, request_uri: body.request_uri, scope: 'openid email' })
  t.equal(extra.status, 400, 'other parameters with request_uri are refused')
  t.match(await extra.text(), /must be pushed/)
  const noClient = await authorize({ request_uri: body.request_uri })
  t.equal(noClient.status, 400, 'client_id is required')
  const otherClient = await authorize({ client_id: OTHER.client_id, request_uri: (await (await push()).json() as { request_uri: string }).request_uri })
  t.equal(otherClient.status, 400, 'another client cannot use it')
  t.match(await otherClient.text(), /invalid_request_uri|request_uri is unknown/)

  const first = await authorize({ client_id: CONFIDENTIAL.client_id, request_uri: body.request_uri })
  t.equal(first.status, 200, 'the first use shows the login page')
  const second = await authorize({ client_id: CONFIDENTIAL.client_id, request_uri: body.request_uri })
  t.equal(second.status, 400, 'the second use is refused')
  t.match(await second.text(), /request_uri is unknown, expired, already used/)

  // An expired one: written as the PAR store writes it, with its expiry passed.
  const reference = 'e'.repeat(43)
  await store.saveInteraction({ interactionId: `par:${sha256(reference)}`, clientId: CONFIDENTIAL.client_id, params: {}, csrfToken: 'x', browserId: 'y', expiresAt: Math.floor(Date.now() / 1000) - 1 })
  const expired = await authorize({ client_id: CONFIDENTIAL.client_id, request_uri: urnPrefix + reference })
  t.equal(expired.status, 400, 'an expired request_uri is refused')
  t.match(await expired.text(), /request_uri is unknown, expired/)
  const foreign = await authorize({ client_id: CONFIDENTIAL.client_id, request_uri: 'https://evil.example/req', response_type: 'code', redirect_uri: REDIRECT_URI })
  t.equal(foreign.status, 302, 'a request_uri that is not ours keeps its old answer')
  t.equal(new URL(foreign.headers.get('location')!).searchParams.get('error'), 'request_uri_not_supported')

  // Errors at the endpoint are JSON (RFC 9126 §2.3), never redirects.
  const cases: Array<[string, Response, number, string]> = [
    ['bad redirect_uri', await push({ redirect_uri: 'https://evil.example/cb' }), 400, 'invalid_request'],
    ['no PKCE', await push({ code_challenge: '' }), 400, 'invalid_request'],
    ['request_uri pushed', await push({ request_uri: body.request_uri }), 400, 'invalid_request'],
    ['request object', await push({ request: 'x.y.z' }), 400, 'invalid_request_object'],
    ['wrong secret', await push({}, basic(CONFIDENTIAL.client_id, 'wrong-secret-0123456789')), 401, 'invalid_client'],
    ['client_id of another client', await push({ client_id: OTHER.client_id }), 400, 'invalid_request'],
  ]
  for (const [name, res, status, error] of cases) {
    t.equal(res.status, status, name)
    t.equal((await res.json() as { error: string }).error, error, name)
  }
})

t.test('require_pushed_authorization_requests: per client, and provider-wide', async (t) => {
  const { app } = await setup(t)
  const direct = async (target: FastifyInstance, clientId: string) => await target.inject({ url: `/authorize?${new URLSearchParams({ client_id: clientId, response_type: 'code', ...authorizationParams() })}` })
  const refused = await direct(app, 'par-only')
  t.equal(refused.statusCode, 302)
  t.match(Object.fromEntries(new URL(refused.headers.location as string).searchParams), { error: 'invalid_request', state: 'st-par' }, 'the client must push')
  t.equal((await direct(app, CONFIDENTIAL.client_id)).statusCode, 200, 'other clients need not')

  const strict = await buildApp(t, { clients: parClients, users: testUsers, scopes: testScopes, par: { required: true } })
  t.equal((await direct(strict, CONFIDENTIAL.client_id)).statusCode, 302, 'provider-wide: every client must push')
  t.equal((await strict.inject('/.well-known/openid-configuration')).json().require_pushed_authorization_requests, true)
  const pushed = await postForm(strict, '/par', { response_type: 'code', ...authorizationParams() }, { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) })
  t.equal(pushed.statusCode, 201)
  const page = await strict.inject({ url: `/authorize?${new URLSearchParams({ client_id: CONFIDENTIAL.client_id, request_uri: pushed.json().request_uri })}` })
  t.equal(page.statusCode, 200, 'and a pushed request goes through')
})

t.test('Redis: a request_uri is consumed once across two instances', async (t) => {
  const admin = await requireRedis(t)
  if (admin === undefined) return
  const prefix = testPrefix()
  const a = await startInstance(REDIS_URL, prefix, { clients: parClients, scopes: testScopes })
  const b = await startInstance(REDIS_URL, prefix, { clients: parClients, scopes: testScopes })
  t.teardown(async () => {
    await a.close()
    await b.close()
    await deleteKeys(admin, prefix)
  })
  for (let round = 0; round < 5; round++) {
    const pushed = await postForm(a.app, '/par', { response_type: 'code', ...authorizationParams() }, { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) })
    t.equal(pushed.statusCode, 201)
    const url = `/authorize?${new URLSearchParams({ client_id: CONFIDENTIAL.client_id, request_uri: pushed.json().request_uri })}`
    const answers = await Promise.all([a.app.inject(url), b.app.inject(url), a.app.inject(url), b.app.inject(url)])
    t.same(answers.map((res) => res.statusCode).sort(), [200, 400, 400, 400], `round ${round}: exactly one winner`)
  }
})
