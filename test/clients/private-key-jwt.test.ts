import t from 'tap'
import { createServer } from 'node:http'
import * as client from 'openid-client'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'
import type { FastifyInstance } from 'fastify'
import { MemoryStore, type StaticClient } from '../../lib/index.js'
import { JwksUriCache, createClientKeySets, type GetJson } from '../../lib/clients/jwks-uri.js'
import { AssertionError, verifyClientAssertion } from '../../lib/clients/assertion.js'
import type { ProviderContext, ProviderCore } from '../../lib/contracts/context.js'
import type { ClientRecord } from '../../lib/contracts/store.js'
import { endpointUrls } from '../../lib/contracts/urls.js'
import { startServer } from '../helpers/server.js'
import { testUsers } from '../helpers/users.js'
import { issueCode, postForm, REDIRECT_URI, testScopes } from '../helpers/codes.js'
import { createFetcher } from '../../lib/http/fetch.js'

const assertionType = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

interface ClientKey { privateKey: CryptoKey, jwk: JWK, kid: string }

async function clientKey (alg: 'ES256' | 'EdDSA' | 'RS256'): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg === 'EdDSA' ? 'Ed25519' : alg, { extractable: true })
  const jwk = await exportJWK(publicKey)
  const kid = await calculateJwkThumbprint(jwk)
  return { privateKey, jwk: { ...jwk, kid }, kid }
}

const es = await clientKey('ES256')
const ed = await clientKey('EdDSA')

function keyClient (clientId: string, key: ClientKey, extra: Partial<StaticClient> = {}): StaticClient {
  return {
    client_id: clientId,
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [key.jwk as Record<string, unknown>] },
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    scope: 'openid profile email offline_access',
    ...extra,
  }
}

async function setup (t: { teardown (fn: () => unknown): void }) {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { app, issuer } = await startServer(t, {
    store,
    users: testUsers,
    scopes: testScopes,
    registration: {},
    clients: [
      keyClient('pk-es', es),
      keyClient('pk-ed', ed),
      keyClient('pk-svc', es, { grant_types: ['client_credentials'], redirect_uris: [], response_types: [], scope: 'api.read', token_endpoint_auth_signing_alg: 'ES256' }),
    ],
  })
  return { app, store, issuer }
}

/** A hand-made assertion, to break one rule at a time. */
async function assertion (key: ClientKey, claims: Record<string, unknown>, options: { alg?: string, secret?: Uint8Array } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const jwt = new SignJWT({ iss: 'pk-svc', sub: 'pk-svc', aud: 'ISSUER', jti: crypto.randomUUID(), iat: now, exp: now + 60, ...claims })
    .setProtectedHeader({ alg: options.alg ?? 'ES256', kid: key.kid })
  return await jwt.sign(options.secret ?? key.privateKey)
}

async function tokenWith (app: FastifyInstance, clientAssertion: string, extra: Record<string, string> = {}) {
  return await postForm(app, '/token', { grant_type: 'client_credentials', client_assertion_type: assertionType, client_assertion: clientAssertion, ...extra })
}

t.test('openid-client PrivateKeyJwt: code exchange, refresh, introspection, revocation (ES256 and Ed25519 keys)', async (t) => {
  const { store, issuer } = await setup(t)
  for (const [clientId, key] of [['pk-es', es], ['pk-ed', ed]] as const) {
    const config = await client.discovery(new URL(issuer), clientId, {}, client.PrivateKeyJwt({ key: key.privateKey, kid: key.kid }), { execute: [client.allowInsecureRequests] })
    const issued = await issueCode(store, { clientId, scope: 'openid profile offline_access' })
    const callback = new URL(REDIRECT_URI)
    callback.searchParams.set('code', issued.code)
    callback.searchParams.set('iss', issuer)
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: issued.verifier, idTokenExpected: true })
    t.equal(tokens.claims()?.aud, clientId, `${clientId}: code exchanged with private_key_jwt`)
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!)
    t.ok(refreshed.access_token, `${clientId}: refreshed`)
    t.match(await client.tokenIntrospection(config, refreshed.access_token), { active: true, client_id: clientId })
    await client.tokenRevocation(config, refreshed.refresh_token!)
    t.same(await client.tokenIntrospection(config, refreshed.access_token), { active: false }, `${clientId}: revoked`)
  }
})

t.test('assertion rules: each broken one is 401 invalid_client, never a 500', async (t) => {
  const { app, issuer } = await setup(t)
  const good = await assertion(es, { aud: issuer })
  const ok = await tokenWith(app, good)
  t.equal(ok.statusCode, 200, 'a good assertion works (aud = issuer)')
  t.equal(ok.headers['cache-control'], 'no-store')

  const replay = await tokenWith(app, good)
  t.equal(replay.statusCode, 401, 'the same jti twice')
  t.match(replay.json(), { error: 'invalid_client', error_description: /already used/ })

  t.equal((await tokenWith(app, await assertion(es, { aud: `${issuer}/token` }))).statusCode, 200, 'aud = the token endpoint URL also works')

  const cases: Array<[string, Promise<string>, RegExp]> = [
    ['another audience', assertion(es, { aud: 'https://other.example.com' }), /refused/],
    ['expired', assertion(es, { aud: issuer, iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 }), /refused/],
    ['no exp', assertion(es, { aud: issuer, exp: undefined }), /refused/],
    ['exp too far away', assertion(es, { aud: issuer, exp: Math.floor(Date.now() / 1000) + 3600 }), /at most 300 seconds/],
    ['no jti', assertion(es, { aud: issuer, jti: undefined }), /refused/],
    ['iss is not the client', assertion(es, { aud: issuer, iss: 'pk-es' }), /refused/],
    ['HS256 (a shared secret)', assertion(es, { aud: issuer }, { alg: 'HS256', secret: new TextEncoder().encode('x'.repeat(32)) }), /alg must be one of ES256/],
    ['signed by another key', assertion({ ...ed, kid: es.kid }, { aud: issuer }, { alg: 'EdDSA' }), /alg must be one of ES256/],
    ['not a JWT', Promise.resolve('not-a-jwt'), /no sub/],
  ]
  for (const [name, made, description] of cases) {
    const res = await tokenWith(app, await made)
    t.equal(res.statusCode, 401, name)
    t.match(res.json(), { error: 'invalid_client', error_description: description }, name)
  }
  const forged = await assertion(await clientKey('ES256'), { aud: issuer })
  t.match((await tokenWith(app, forged)).json(), { error: 'invalid_client' }, 'an unregistered key')

  const wrongType = await postForm(app, '/token', { grant_type: 'client_credentials', client_assertion_type: 'urn:other', client_assertion: await assertion(es, { aud: issuer }) })
  t.equal(wrongType.statusCode, 401)
  const both = await tokenWith(app, await assertion(es, { aud: issuer }), { client_secret: 'x'.repeat(20), client_id: 'pk-svc' })
  t.match(both.json(), { error: 'invalid_request' }, 'a secret and an assertion at once')
  const mismatch = await tokenWith(app, await assertion(es, { aud: issuer }), { client_id: 'pk-es' })
  t.match(mismatch.json(), { error: 'invalid_request' }, 'client_id other than the assertion\'s')
  const withoutAssertion = await postForm(app, '/token', { grant_type: 'client_credentials', client_id: 'pk-svc' })
  t.equal(withoutAssertion.statusCode, 401, 'a private_key_jwt client cannot skip its assertion')
})

t.test('registration: private_key_jwt with jwks or jwks_uri, no secret issued; bad keys refused', async (t) => {
  const { issuer } = await setup(t)
  const register = async (body: Record<string, unknown>): Promise<Response> => await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'private_key_jwt', ...body }),
  })
  const created = await register({ jwks: { keys: [es.jwk] }, token_endpoint_auth_signing_alg: 'ES256' })
  t.equal(created.status, 201)
  const info = await created.json() as Record<string, unknown>
  t.equal(info.client_secret, undefined, 'no secret for a key-authenticated client')
  t.same(info.jwks, { keys: [es.jwk] })
  t.equal(info.token_endpoint_auth_signing_alg, 'ES256')
  t.equal((await register({ jwks_uri: 'https://client.example.com/jwks.json' })).status, 201)
  for (const [name, body] of [
    ['no keys', {}],
    ['both jwks and jwks_uri', { jwks: { keys: [es.jwk] }, jwks_uri: 'https://client.example.com/jwks.json' }],
    ['a private key', { jwks: { keys: [{ ...es.jwk, d: 'secret' }] } }],
    ['a symmetric key', { jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }],
    ['http jwks_uri', { jwks_uri: 'http://client.example.com/jwks.json' }],
    ['HS256 signing alg', { jwks: { keys: [es.jwk] }, token_endpoint_auth_signing_alg: 'HS256' }],
  ] as const) {
    const res = await register(body)
    t.equal(res.status, 400, name)
    t.equal((await res.json() as { error: string }).error, 'invalid_client_metadata', name)
  }
  const metadata = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json() as Record<string, string[]>
  t.ok(metadata.token_endpoint_auth_methods_supported?.includes('private_key_jwt'))
  t.ok(metadata.token_endpoint_auth_signing_alg_values_supported?.includes('ES256'))
  t.notOk(metadata.token_endpoint_auth_signing_alg_values_supported?.some((alg) => alg.startsWith('HS')), 'no symmetric algorithms')
  t.notOk(metadata.token_endpoint_auth_methods_supported?.includes('client_secret_jwt'), 'client_secret_jwt stays out')
})

t.test('jwks_uri: fetched once and cached, refetched once on an unknown kid, not again within the cooldown', async (t) => {
  let served: JWK[] = [es.jwk]
  let fetches = 0
  let failing = false
  const server = createServer((_request, response) => {
    fetches++
    if (failing) {
      response.writeHead(500).end()
      return
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: served }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const address = server.address() as { port: number }
  const url = `http://127.0.0.1:${address.port}/jwks.json`
  // The provider's own SSRF-safe fetcher, allowed to reach this loopback test server over http.
  const fetcher = createFetcher({ allowLoopback: true, allowHttpLoopback: true })
  t.teardown(async () => { await fetcher.close() })
  const getJson: GetJson = async (target, options) => await fetcher.getJson(target, options)
  let now = 1_000_000
  const cache = new JwksUriCache(getJson, { ttlMs: 300_000, cooldownMs: 60_000, now: () => now })
  const [a, b] = await Promise.all([cache.keys(url, es.kid), cache.keys(url, es.kid)])
  t.same(a, [es.jwk])
  t.same(b, [es.jwk])
  t.equal(fetches, 1, 'concurrent callers share one fetch')
  await cache.keys(url, es.kid)
  t.equal(fetches, 1, 'cached')

  served = [es.jwk, ed.jwk]
  t.same(await cache.keys(url, ed.kid), [es.jwk], 'an unknown kid within the cooldown does not refetch')
  t.equal(fetches, 1)
  now += 61_000
  t.same(await cache.keys(url, ed.kid), [es.jwk, ed.jwk], 'after the cooldown, an unknown kid refetches once')
  t.equal(fetches, 2)
  await cache.keys(url, 'made-up-kid')
  await cache.keys(url, 'made-up-kid')
  t.equal(fetches, 2, 'made-up kids do not amplify into fetches')

  failing = true
  now += 400_000
  t.same(await cache.keys(url), [es.jwk, ed.jwk], 'a failed refresh keeps the keys it had')
  t.equal(fetches, 3)
  await cache.keys(url)
  t.equal(fetches, 3, 'no retry within the cooldown after a failure')
  const fresh = new JwksUriCache(getJson, { now: () => now })
  await t.rejects(fresh.keys(url), /could not be fetched/, 'no keys at all: a clear refusal')
  const notJwks: GetJson = async () => ({ ok: true, value: { nope: true }, status: 200, headers: new Headers() })
  await t.rejects(new JwksUriCache(notJwks).keys(url), /did not return a JWK Set/)
})

t.test('jwks_uri clients: verifyClientAssertion fetches the keys through ctx.fetcher.getJson (a local JWKS server)', async (t) => {
  let fetches = 0
  const server = createServer((_request, response) => {
    fetches++
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [es.jwk] }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const jwksUri = `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks.json`
  // The provider's SSRF-safe fetcher, allowed to reach this loopback test server over http.
  const fetcher = createFetcher({ allowLoopback: true, allowHttpLoopback: true })
  t.teardown(async () => { await fetcher.close() })
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const issuer = 'https://op.example.com'
  // Issue 19: each fetch (not each cache answer) raises `jwks_uri.fetched` with the host alone.
  const fetched: unknown[] = []
  const audit = (name: string, event: unknown): void => { fetched.push({ name, event }) }
  const core = { issuer, urls: endpointUrls(issuer), store, fetcher, audit } as unknown as ProviderCore
  const ctx = { ...core, clientKeySets: createClientKeySets(core) } as unknown as ProviderContext
  const record: ClientRecord = {
    client_id: 'pk-svc',
    token_endpoint_auth_method: 'private_key_jwt',
    jwks_uri: jwksUri,
    redirect_uris: [],
    grant_types: ['client_credentials'],
    response_types: [],
    scope: 'api.read',
    application_type: 'web',
    client_id_issued_at: 0,
  }
  await verifyClientAssertion(ctx, record, await assertion(es, { aud: `${issuer}/introspect` }), ctx.urls.introspect)
  await verifyClientAssertion(ctx, record, await assertion(es, { aud: issuer }), ctx.urls.introspect)
  t.equal(fetches, 1, 'fetched once, then cached')
  t.same(fetched, [{ name: 'jwks_uri.fetched', event: { host: new URL(jwksUri).host, outcome: 'ok' } }], 'one jwks_uri.fetched event (ok), none for the cached answer')
  await t.rejects(verifyClientAssertion(ctx, record, await assertion(await clientKey('ES256'), { aud: issuer }), ctx.urls.token), AssertionError, 'an unknown key')
  const noKeys = { ...record, jwks_uri: undefined }
  delete noKeys.jwks_uri
  await t.rejects(verifyClientAssertion(ctx, noKeys, await assertion(es, { aud: issuer }), ctx.urls.token), /no registered keys/)
  // The production policy (no loopback): the same jwks_uri is refused by address, never fetched.
  const strict = createFetcher({})
  t.teardown(async () => { await strict.close() })
  await t.rejects(verifyClientAssertion({ ...ctx, clientKeySets: createClientKeySets({ ...core, fetcher: strict }) }, record, await assertion(es, { aud: issuer }), ctx.urls.token), /could not be fetched/)
  t.same(fetched.at(-1), { name: 'jwks_uri.fetched', event: { host: new URL(jwksUri).host, outcome: 'error' } }, 'a refused fetch: outcome error')
})

t.test('registration accepts dpop_bound_access_tokens and require_pushed_authorization_requests as booleans', async (t) => {
  const { issuer } = await setup(t)
  const register = async (body: Record<string, unknown>): Promise<Response> => await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [REDIRECT_URI], ...body }),
  })
  const ok = await register({ dpop_bound_access_tokens: true, require_pushed_authorization_requests: true })
  t.equal(ok.status, 201)
  t.match(await ok.json(), { dpop_bound_access_tokens: true, require_pushed_authorization_requests: true })
  t.equal((await register({ dpop_bound_access_tokens: 'yes' })).status, 400)
})
