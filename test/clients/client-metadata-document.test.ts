import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import * as client from 'openid-client'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose'
import type { OidcProviderOptions } from '../../lib/index.js'
import { cacheSeconds, checkClientIdUrl, clientDocumentSettings } from '../../lib/clients/metadata-document.js'
import type { SecurityEvents } from '../../lib/contracts/events.js'
import { ISSUER, buildApp } from '../helpers/app.js'
import { CookieJar, hiddenField, pkcePair, runCodeFlow } from '../helpers/flow.js'
import { startServer } from '../helpers/server.js'
import { testUsers } from '../helpers/users.js'
import { connectRedis, missing, testPrefix } from '../helpers/redis.js'
import { RedisStore } from '../../lib/adapters/store/redis.js'
import { selfSignedCertificate } from '../helpers/tls.js'

const REDIRECT_URI = 'http://localhost:8080/callback'

/** One response the document server gives for a path; `hits` counts requests per path. */
interface DocResponse {
  status?: number
  headers?: Record<string, string>
  body: string
}

/**
 * The clients' side: a plain http server on loopback serving metadata documents (the
 * development option lets the provider fetch http on loopback), counting requests per path.
 */
async function startDocServer (t: { teardown (fn: () => unknown): void }) {
  const responses = new Map<string, DocResponse>()
  const hits = new Map<string, number>()
  const server = Fastify({ logger: false })
  server.get('/*', async (request, reply) => {
    const path = request.url.split('?')[0]!
    hits.set(path, (hits.get(path) ?? 0) + 1)
    const response = responses.get(path)
    if (response === undefined) return await reply.code(404).send({ error: 'not found' })
    reply.code(response.status ?? 200)
    reply.headers({ 'content-type': 'application/json', ...response.headers })
    return await reply.send(response.body)
  })
  await server.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => server.close())
  const address = server.server.address()
  const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  /** Serves a document at `path`; returns its URL (the client_id). */
  const serve = (path: string, document: (url: string) => unknown, extra: Omit<DocResponse, 'body'> = {}): string => {
    const url = base + path
    const body = document(url)
    responses.set(path, { ...extra, body: typeof body === 'string' ? body : JSON.stringify(body) })
    return url
  }
  return { base, serve, hits: (path: string) => hits.get(path) ?? 0 }
}

/** A valid public client's document for `url`. */
function publicDocument (url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_id: url,
    client_name: 'Doc App',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'none',
    ...extra,
  }
}

const providerOptions: Partial<OidcProviderOptions> = {
  users: testUsers,
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  outbound: { allowHttpLoopback: true },
  clientIdMetadataDocuments: true,
}

/** Collects the CIMD events an app emits. */
function recordEvents (app: FastifyInstance) {
  const failed: Array<SecurityEvents['client_metadata.failed']> = []
  const fetched: Array<SecurityEvents['client_metadata.fetched']> = []
  app.oidc.on('client_metadata.failed', (event) => failed.push(event))
  app.oidc.on('client_metadata.fetched', (event) => fetched.push(event))
  return { failed, fetched }
}

function authorizeUrl (clientId: string, redirectUri = REDIRECT_URI): string {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'openid',
    state: 'st',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
  })
  return `/authorize?${query}`
}

t.test('discovery advertises client_id_metadata_document_supported only when enabled', async (t) => {
  const on = await buildApp(t, providerOptions)
  for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
    const res = await on.inject(path)
    t.equal(res.json().client_id_metadata_document_supported, true, path)
  }
  const off = await buildApp(t, { users: testUsers })
  t.notOk('client_id_metadata_document_supported' in (await off.inject('/.well-known/openid-configuration')).json(), 'absent by default')
  t.equal((await off.inject('/.well-known/oauth-authorization-server')).json().client_id_metadata_document_supported, undefined)
})

t.test('off by default: a URL client_id is an unknown client, and nothing is fetched', async (t) => {
  const docs = await startDocServer(t)
  const clientId = docs.serve('/off/client.json', (url) => publicDocument(url))
  const app = await buildApp(t, { users: testUsers, outbound: { allowHttpLoopback: true } })
  const res = await app.inject(authorizeUrl(clientId))
  t.equal(res.statusCode, 400)
  t.match(res.body, /not registered/)
  t.equal(docs.hits('/off/client.json'), 0)
})

t.test('full code flow: openid-client with a URL client_id, refresh, consent page shows the host', async (t) => {
  const docs = await startDocServer(t)
  const clientId = docs.serve('/apps/doc-app.json', (url) => publicDocument(url), { headers: { 'cache-control': 'max-age=300' } })
  const { app, issuer } = await startServer(t, providerOptions)
  const events = recordEvents(app)

  // The consent page: the host is the identity shown, in a <strong>, with the note.
  const host = new URL(clientId).host
  const jar = new CookieJar()
  let res = await app.inject({ url: authorizeUrl(clientId), headers: { cookie: jar.header() } })
  t.equal(res.statusCode, 200)
  t.match(res.body, /to continue to Doc App/, 'the login page names the client')
  jar.update(res)
  res = await app.inject({
    method: 'POST',
    url: '/authorize',
    payload: new URLSearchParams({ interaction_id: hiddenField(res.body, 'interaction_id'), csrf_token: hiddenField(res.body, 'csrf_token'), username: 'demo', password: 'demo' }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
  })
  jar.update(res)
  t.equal(res.statusCode, 303)
  const consentUrl = res.headers.location as string
  res = await app.inject({ url: consentUrl, headers: { cookie: jar.header() } })
  t.equal(res.statusCode, 200)
  t.match(res.body, `<strong>${host}</strong> wants to access your account`)
  t.match(res.body, `identified itself by its address at ${host}`)
  t.notMatch(res.headers['content-security-policy'], /script-src[^;]*'unsafe-inline'/, 'CSP unchanged: no inline script')
  const german = await app.inject({ url: consentUrl, headers: { cookie: jar.header(), 'accept-language': 'de' } })
  t.match(german.body, `<strong>${host}</strong> möchte auf Ihr Konto zugreifen`)

  // The whole flow, with openid-client at the token endpoint.
  const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] })
  t.equal(config.serverMetadata().client_id_metadata_document_supported, true)
  const flow = await runCodeFlow(app, { clientId, redirectUri: REDIRECT_URI, scope: 'openid offline_access', state: 's1', nonce: 'n1' })
  t.ok(flow.code, 'redirected with a code')
  t.equal(flow.location.origin + flow.location.pathname, REDIRECT_URI)
  const tokens = await client.authorizationCodeGrant(config, flow.location, { pkceCodeVerifier: flow.verifier, expectedState: 's1', expectedNonce: 'n1', idTokenExpected: true })
  t.equal(tokens.claims()?.aud, clientId, 'the ID token is for the URL client_id')
  t.equal(tokens.claims()?.sub, 'demo')
  t.ok(tokens.refresh_token)
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '')
  t.ok(refreshed.access_token, 'refresh works for the document client')

  t.equal(docs.hits('/apps/doc-app.json'), 1, 'fetched once: every later lookup came from the cache (max-age=300)')
  t.same(events.fetched.filter((event) => event.outcome === 'ok'), [{ host, outcome: 'ok' }])
  t.ok(events.fetched.filter((event) => event.outcome === 'cached').length >= 4, 'cache hits are counted')
  t.same(events.failed, [])
})

t.test('PAR: a public document client pushes its request', async (t) => {
  const docs = await startDocServer(t)
  const clientId = docs.serve('/par/client.json', (url) => publicDocument(url))
  const app = await buildApp(t, providerOptions)
  const { challenge } = pkcePair()
  const res = await app.inject({
    method: 'POST',
    url: '/par',
    payload: new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  t.equal(res.statusCode, 201)
  const requestUri = res.json().request_uri as string
  const page = await app.inject(`/authorize?${new URLSearchParams({ client_id: clientId, request_uri: requestUri })}`)
  t.equal(page.statusCode, 200)
  t.match(page.body, /name="password"/, 'the login page')
})

t.test('refusals end in an error page, never a redirect; the token endpoint answers invalid_client', async (t) => {
  const docs = await startDocServer(t)
  const app = await buildApp(t, providerOptions)
  const events = recordEvents(app)
  const big = 'x'.repeat(6000)
  const cases: Array<{ name: string, clientId: string, reason: string, page: RegExp, redirectUri?: string }> = [
    { name: 'client_id differs', clientId: docs.serve('/r/other.json', (url) => publicDocument(url, { client_id: `${url}x` })), reason: 'client_id_mismatch', page: /names another client_id/ },
    { name: 'too large', clientId: docs.serve('/r/big.json', (url) => publicDocument(url, { client_name: 'Big', logo: big })), reason: 'too_large', page: /is too large/ },
    { name: 'redirects', clientId: docs.serve('/r/moved.json', () => '', { status: 302, headers: { location: '/r/other.json' } }), reason: 'redirect', page: /redirect/ },
    { name: 'not JSON', clientId: docs.serve('/r/html.json', () => '<html></html>', { headers: { 'content-type': 'text/html' } }), reason: 'not_json', page: /is not JSON/ },
    { name: 'not found', clientId: `${docs.base}/r/missing.json`, reason: 'bad_status', page: /not answered with 200/ },
    { name: 'client_secret_basic', clientId: docs.serve('/r/secret.json', (url) => publicDocument(url, { token_endpoint_auth_method: 'client_secret_basic' })), reason: 'invalid_metadata', page: /needs a shared secret/ },
    { name: 'a client_secret', clientId: docs.serve('/r/with-secret.json', (url) => publicDocument(url, { client_secret: 's'.repeat(32) })), reason: 'invalid_metadata', page: /must not contain client_secret/ },
    { name: 'first_party', clientId: docs.serve('/r/first.json', (url) => publicDocument(url, { first_party: true })), reason: 'invalid_metadata', page: /first_party/ },
    { name: 'a bad redirect_uri', clientId: docs.serve('/r/js.json', (url) => publicDocument(url, { redirect_uris: ['javascript:alert(1)'] })), reason: 'invalid_metadata', page: /not allowed/ },
    { name: 'an array', clientId: docs.serve('/r/array.json', () => '[]'), reason: 'invalid_metadata', page: /not a JSON object/ },
    { name: 'private range', clientId: 'https://10.0.0.1/client.json', reason: 'refused_address', page: /could not be fetched/ },
    { name: 'https loopback without allowLoopback', clientId: `https://127.0.0.1:${new URL(docs.base).port}/client.json`, reason: 'refused_address', page: /could not be fetched/ },
    { name: '203, not 200', clientId: docs.serve('/r/203.json', (url) => publicDocument(url), { status: 203 }), reason: 'bad_status', page: /not answered with 200/ },
    { name: 'not a URL', clientId: 'https://', reason: 'invalid_client_id', page: /the client_id URL cannot be used: the client_id is not a valid URL/ },
    { name: 'no path', clientId: 'https://client.example', reason: 'invalid_client_id', page: /must contain a path/ },
    { name: 'a dot segment', clientId: 'https://client.example/a/../client.json', reason: 'invalid_client_id', page: /path segments/ },
    { name: 'a fragment', clientId: 'https://client.example/client.json#x', reason: 'invalid_client_id', page: /fragment/ },
    { name: 'credentials', clientId: 'https://user:pw@client.example/client.json', reason: 'invalid_client_id', page: /username or password/ },
  ]
  for (const item of cases) {
    const res = await app.inject(authorizeUrl(item.clientId, item.redirectUri))
    t.equal(res.statusCode, 400, `${item.name}: 400`)
    t.equal(res.headers.location, undefined, `${item.name}: no redirect`)
    t.match(res.headers['content-type'], /^text\/html/, `${item.name}: a page`)
    t.match(res.body, item.page, `${item.name}: the page says why`)
    t.equal(events.failed.at(-1)?.reason, item.reason, `${item.name}: event reason ${item.reason}`)
    t.equal(events.fetched.at(-1)?.outcome, 'error', `${item.name}: counted as an error`)
  }
  t.equal(events.failed[0]?.clientId, cases[0]?.clientId)
  t.equal(events.failed[0]?.host, new URL(docs.base).host)

  // A valid document whose redirect_uris do not list the redirect_uri: an error page too.
  const listed = docs.serve('/r/good.json', (url) => publicDocument(url))
  const unlisted = await app.inject(authorizeUrl(listed, 'http://localhost:8080/elsewhere'))
  t.equal(unlisted.statusCode, 400)
  t.equal(unlisted.headers.location, undefined)
  t.match(unlisted.body, /redirect_uri is not registered/)

  // The token endpoint: a refused document is an unknown client (RFC 6749 §5.2).
  for (const clientId of [cases[0]!.clientId, cases[5]!.clientId]) {
    const res = await app.inject({
      method: 'POST',
      url: '/token',
      payload: new URLSearchParams({ grant_type: 'authorization_code', client_id: clientId, code: 'x'.repeat(43), redirect_uri: REDIRECT_URI, code_verifier: 'v'.repeat(43) }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    t.equal(res.statusCode, 401)
    t.equal(res.json().error, 'invalid_client')
  }
  t.equal(docs.hits('/r/other.json'), 2, 'failures are not cached: /authorize and /token each fetched')
})

t.test('http client_id URLs need allowHttpLoopback and a loopback issuer', async (t) => {
  const docs = await startDocServer(t)
  const clientId = docs.serve('/dev/client.json', (url) => publicDocument(url))
  const withoutDev = await buildApp(t, { users: testUsers, clientIdMetadataDocuments: true })
  const events = recordEvents(withoutDev)
  const res = await withoutDev.inject(authorizeUrl(clientId))
  t.equal(res.statusCode, 400)
  t.equal(res.headers.location, undefined)
  t.equal(events.failed[0]?.reason, 'not_https')
  t.equal(docs.hits('/dev/client.json'), 0, 'not fetched')
  t.equal(clientDocumentSettings({ issuer: 'https://id.example.com', outbound: { allowHttpLoopback: true, allowLoopback: false, timeoutMs: 5000 }, clientIdMetadataDocuments: true })?.allowHttpLoopback, false, 'a public issuer never fetches http client_ids')
  t.equal(checkClientIdUrl('http://client.example/c.json', true).ok, false, 'http only on loopback')
  t.equal(checkClientIdUrl('ftp://client.example/c.json', true).ok, false)
  t.equal(checkClientIdUrl('https://client.example/a/%2E%2E/c.json', false).ok, false, 'an encoded dot segment')
  t.equal(checkClientIdUrl('https://client.example/c.json?v=1', false).ok, true, 'a query is allowed')
  t.equal(checkClientIdUrl('https://client.example/a\\..\\c.json', false).ok, false, 'a backslash (the parser would read it as /)')
  t.equal(checkClientIdUrl('https://client.example/a c.json', false).ok, false, 'a space')
  t.equal(checkClientIdUrl('https://client.example/' + 'a'.repeat(2000), false).ok, false, 'too long')
})

t.test('caching: max-age is honoured, no-store caches for minCacheSeconds, 0 refetches; concurrent lookups share a fetch', async (t) => {
  const docs = await startDocServer(t)
  const app = await buildApp(t, { ...providerOptions, clientIdMetadataDocuments: { minCacheSeconds: 0 } })
  const fresh = docs.serve('/c/fresh.json', (url) => publicDocument(url), { headers: { 'cache-control': 'public, max-age=600' } })
  const noStore = docs.serve('/c/no-store.json', (url) => publicDocument(url), { headers: { 'cache-control': 'no-store' } })
  for (let i = 0; i < 3; i++) {
    t.equal((await app.inject(authorizeUrl(fresh))).statusCode, 200)
    t.equal((await app.inject(authorizeUrl(noStore))).statusCode, 200)
  }
  t.equal(docs.hits('/c/fresh.json'), 1, 'within max-age: not fetched again')
  t.equal(docs.hits('/c/no-store.json'), 3, 'no-store with minCacheSeconds 0: fetched every time')

  const concurrent = docs.serve('/c/concurrent.json', (url) => publicDocument(url), { headers: { 'cache-control': 'no-store' } })
  const pages = await Promise.all(Array.from({ length: 5 }, async () => await app.inject(authorizeUrl(concurrent))))
  t.same(pages.map((page) => page.statusCode), [200, 200, 200, 200, 200])
  t.equal(docs.hits('/c/concurrent.json'), 1, 'five concurrent lookups, one fetch')

  // The default minimum (60 s): a no-store document is not fetched again within one flow.
  const defaults = await buildApp(t, providerOptions)
  const defaultNoStore = docs.serve('/c/default-no-store.json', (url) => publicDocument(url), { headers: { 'cache-control': 'no-store' } })
  await defaults.inject(authorizeUrl(defaultNoStore))
  await defaults.inject(authorizeUrl(defaultNoStore))
  t.equal(docs.hits('/c/default-no-store.json'), 1)
})

t.test('cacheSeconds: Cache-Control and Expires within the bounds', async (t) => {
  const bounds = { minCacheSeconds: 60, maxCacheSeconds: 86400 }
  const headers = (init: Record<string, string>): Headers => new Headers(init)
  t.equal(cacheSeconds(headers({ 'cache-control': 'max-age=300' }), bounds), 300)
  t.equal(cacheSeconds(headers({ 'cache-control': 'max-age=300', age: '100' }), bounds), 200, 'Age is subtracted')
  t.equal(cacheSeconds(headers({ 'cache-control': 'max-age=9999999' }), bounds), 86400, 'capped at maxCacheSeconds')
  t.equal(cacheSeconds(headers({ 'cache-control': 'max-age=0' }), bounds), 60, 'raised to minCacheSeconds')
  t.equal(cacheSeconds(headers({ 'cache-control': 'no-cache, max-age=600' }), bounds), 60)
  t.equal(cacheSeconds(headers({ 'cache-control': 'NO-STORE' }), { minCacheSeconds: 0, maxCacheSeconds: 100 }), 0)
  t.equal(cacheSeconds(headers({}), bounds), 60, 'no caching headers: the minimum')
  const now = Date.parse('2026-01-01T00:00:00Z')
  t.equal(cacheSeconds(headers({ expires: 'Thu, 01 Jan 2026 01:00:00 GMT' }), bounds, now), 3600, 'Expires against now')
  t.equal(cacheSeconds(headers({ expires: 'Thu, 01 Jan 2026 00:10:00 GMT', date: 'Wed, 31 Dec 2025 23:50:00 GMT' }), bounds, now), 1200, 'Expires against Date')
})

t.test('the allow policy of the host: a refused URL is never fetched and ends in an error page or invalid_client', async (t) => {
  const docs = await startDocServer(t)
  const trusted = docs.serve('/trusted/app.json', (url) => publicDocument(url))
  const untrusted = docs.serve('/untrusted/app.json', (url) => publicDocument(url))
  const asked: string[] = []
  const app = await buildApp(t, {
    ...providerOptions,
    clientIdMetadataDocuments: {
      allow: async (url) => {
        asked.push(url.href)
        return url.pathname.startsWith('/trusted/')
      },
    },
  })
  const events = recordEvents(app)
  const page = await app.inject(authorizeUrl(untrusted))
  t.equal(page.statusCode, 400)
  t.notOk(page.headers.location, 'never a redirect')
  t.match(page.body, /are not accepted by this provider/)
  const token = await app.inject({
    method: 'POST',
    url: '/token',
    payload: new URLSearchParams({ grant_type: 'authorization_code', client_id: untrusted, code: 'x', redirect_uri: REDIRECT_URI, code_verifier: 'v'.repeat(43) }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  t.equal(token.statusCode, 401)
  t.equal(token.json().error, 'invalid_client')
  t.equal(docs.hits('/untrusted/app.json'), 0, 'nothing was fetched for a refused URL')
  t.match(events.failed, [{ reason: 'not_allowed' }, { reason: 'not_allowed' }])
  t.same(asked, [untrusted, untrusted], 'the policy gets the parsed client_id URL')

  const allowed = await app.inject(authorizeUrl(trusted))
  t.equal(allowed.statusCode, 200, 'an allowed URL is fetched and used')
  t.equal(docs.hits('/trusted/app.json'), 1)
  await t.rejects(buildApp(t, { ...providerOptions, clientIdMetadataDocuments: { allow: 'example.com' as never } }), { code: 'FST_OIDC_INVALID_OPTION', message: /clientIdMetadataDocuments.allow/ })
})

t.test('the option: bounds are checked at register', async (t) => {
  await t.rejects(buildApp(t, { ...providerOptions, clientIdMetadataDocuments: { minCacheSeconds: 600, maxCacheSeconds: 60 } }), { code: 'FST_OIDC_INVALID_OPTION', message: /clientIdMetadataDocuments.minCacheSeconds/ })
  await t.rejects(buildApp(t, { ...providerOptions, clientIdMetadataDocuments: { maxBytes: 10 } as never }), { code: 'FST_OIDC_INVALID_OPTION' })
  t.equal(clientDocumentSettings({ issuer: 'http://localhost', outbound: { allowHttpLoopback: false, allowLoopback: false, timeoutMs: 5000 }, clientIdMetadataDocuments: { maxCacheSeconds: 30 } })?.minCacheSeconds, 30, 'the default minimum never exceeds a smaller maximum')
  t.equal(clientDocumentSettings({ issuer: 'http://localhost', outbound: { allowHttpLoopback: false, allowLoopback: false, timeoutMs: 5000 }, clientIdMetadataDocuments: false }), undefined)
})

t.test('a static client with a URL client_id wins over its document; private_key_jwt documents need keys', async (t) => {
  const docs = await startDocServer(t)
  const staticId = docs.serve('/s/static.json', (url) => publicDocument(url))
  const app = await buildApp(t, { ...providerOptions, clients: [{ client_id: staticId, redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' }] })
  t.equal((await app.inject(authorizeUrl(staticId))).statusCode, 200)
  t.equal(docs.hits('/s/static.json'), 0, 'the static client is used; its URL is not fetched')

  const events = recordEvents(app)
  const keyless = docs.serve('/s/keyless.json', (url) => publicDocument(url, { token_endpoint_auth_method: 'private_key_jwt' }))
  const res = await app.inject(authorizeUrl(keyless))
  t.equal(res.statusCode, 400)
  t.equal(events.failed[0]?.reason, 'invalid_metadata')
  t.match(events.failed[0]?.detail, /jwks/)
})

t.test('Redis store: the document client is never written to the store; the flow works across the store', async (t) => {
  const redis = await connectRedis()
  if (typeof redis === 'string') return missing(t, redis)
  const store = new RedisStore({ client: redis, prefix: testPrefix() })
  t.teardown(async () => { await store.close?.(); redis.disconnect() })
  const docs = await startDocServer(t)
  const clientId = docs.serve('/redis/client.json', (url) => publicDocument(url), { headers: { 'cache-control': 'max-age=300' } })
  const { app, issuer } = await startServer(t, { ...providerOptions, store })
  const flow = await runCodeFlow(app, { clientId, redirectUri: REDIRECT_URI, scope: 'openid', state: 'r1' })
  const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] })
  const tokens = await client.authorizationCodeGrant(config, flow.location, { pkceCodeVerifier: flow.verifier, expectedState: 'r1' })
  t.ok(tokens.access_token)
  t.equal(await store.getClient(clientId), undefined, 'not in the store')
  t.equal(docs.hits('/redis/client.json'), 1)
})

t.test('private_key_jwt: a document with jwks authenticates at /token with its key', async (t) => {
  const docs = await startDocServer(t)
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const jwk = await exportJWK(publicKey)
  const kid = await calculateJwkThumbprint(jwk)
  const other = await generateKeyPair('ES256')
  const clientId = docs.serve('/k/service.json', (url) => ({
    client_id: url,
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [{ ...jwk, kid }] },
    grant_types: ['client_credentials'],
    response_types: [],
    scope: 'profile',
  }))
  const app = await buildApp(t, providerOptions)
  const token = async (key: typeof privateKey) => {
    const now = Math.floor(Date.now() / 1000)
    const assertion = await new SignJWT({ iss: clientId, sub: clientId, aud: ISSUER, jti: crypto.randomUUID(), iat: now, exp: now + 60 })
      .setProtectedHeader({ alg: 'ES256', kid }).sign(key)
    return await app.inject({
      method: 'POST',
      url: '/token',
      payload: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
  }
  const ok = await token(privateKey)
  t.equal(ok.statusCode, 200, ok.body)
  t.equal(ok.headers['cache-control'], 'no-store')
  const wrong = await token(other.privateKey)
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().error, 'invalid_client')
  t.equal(docs.hits('/k/service.json'), 1)
})

t.test('an https document on loopback: allowLoopback and the test certificate in outbound.ca', async (t) => {
  const certificate = await selfSignedCertificate()
  if (typeof certificate === 'string') {
    t.pass('needs openssl', { skip: certificate })
    return
  }
  const server = Fastify({ logger: false, https: certificate })
  let hits = 0
  server.get('/tls/client.json', async (_request, reply) => {
    hits++
    return await reply.type('application/json').send(publicDocument(`https://127.0.0.1:${(server.server.address() as { port: number }).port}/tls/client.json`))
  })
  await server.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => server.close())
  const clientId = `https://127.0.0.1:${(server.server.address() as { port: number }).port}/tls/client.json`

  // The shape the MCP SDK's auth() insists on (an https clientMetadataUrl with a path).
  const trusted = await buildApp(t, { ...providerOptions, outbound: { allowLoopback: true, ca: certificate.cert } })
  const page = await trusted.inject(authorizeUrl(clientId))
  t.equal(page.statusCode, 200, page.body.slice(0, 200))
  t.match(page.body, /name="password"/)
  t.equal(hits, 1)

  const untrusted = await buildApp(t, { ...providerOptions, outbound: { allowLoopback: true } })
  const events = recordEvents(untrusted)
  const refused = await untrusted.inject(authorizeUrl(clientId))
  t.equal(refused.statusCode, 400)
  t.equal(refused.headers.location, undefined)
  t.equal(events.failed[0]?.reason, 'network', 'an unknown certificate is a failed connection')
  t.match(events.failed[0]?.detail, /certificate/i)
})
