/**
 * Metrics (issue 19), over real HTTP on the RedisStore: the `/metrics` route shows the counters
 * moving after a code flow, a refresh (and its grace retry), a code replay, a failed login and
 * client_credentials; the output never holds a token, a code, a secret, a username, a password
 * or an id a stranger can create; a host's own registry gets the metrics merged in.
 */
import t, { type Test } from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { generateKeyPair, SignJWT } from 'jose'
import { Counter, Histogram, Registry } from 'prom-client'
import { MemoryStore, oidcProvider, RedisStore, staticUsers, type ClientRecord, type OidcProviderOptions } from '../../lib/index.js'
import { instrumentStore } from '../../lib/provider/metrics/store-instrumentation.js'
import { pkcePair } from '../helpers/flow.js'
import { HttpBrowser } from '../helpers/http-browser.js'
import { testKeys } from '../helpers/keys.js'
import { deleteKeys, requireRedis, testPrefix } from '../helpers/redis.js'
import { freePort } from '../helpers/server.js'

const REDIRECT_URI = 'https://rp.example.com/cb'
const WEB = { client_id: 'web-app', client_secret: 'web-app-secret-6f1c2a9d4b' }
const SERVICE = { client_id: 'report-service', client_secret: 'service-secret-83be07c1f5' }
const USER = { username: 'carol.operator', password: 'correct horse battery staple', sub: 'account-7731' }
const WRONG = { username: 'mallory.guesser', password: 'hunter2-not-the-password' }

const users = staticUsers([{ ...USER, cost: { N: 1024 }, claims: { name: 'Carol' } }])

const basic = (client: { client_id: string, client_secret: string }): Record<string, string> =>
  ({ authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}` })

async function postForm (url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  })
}

async function start (t: Test, options: Partial<OidcProviderOptions>, port?: number): Promise<{ app: FastifyInstance, issuer: string }> {
  port ??= await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const app = Fastify({ logger: false })
  await app.register(oidcProvider, {
    issuer,
    keys: testKeys(),
    cookieSecret: 'm'.repeat(32),
    users,
    registration: {},
    scopes: ['openid', 'profile', 'email', 'offline_access', 'reports'],
    ...options,
    clients: [
      { ...WEB, redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile offline_access', first_party: true },
      { ...SERVICE, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'reports' },
      ...(options.clients ?? []),
    ],
  })
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { app, issuer }
}

/** One sample's value from the Prometheus text, or 0 when the series does not exist (yet). */
function sample (text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    const match = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) continue
    const found = Object.fromEntries([...(match[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]))
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[2])
  }
  return 0
}

/** A login attempt with a wrong password, as a browser would post it (real HTTP, cookies kept). */
/** A Back-Channel Logout receiver on loopback that answers 200, counting the deliveries. */
async function startReceiver (t: Test): Promise<{ url: string, hits: () => number }> {
  let hits = 0
  const server = createServer((request, response) => {
    request.resume()
    request.on('end', () => { hits++; response.writeHead(200).end() })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => { resolve() }) }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/backchannel`, hits: () => hits }
}

async function failedLogin (issuer: string, clientId: string): Promise<number> {
  const { challenge } = pkcePair()
  const url = `${issuer}/authorize?${new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256',
  })}`
  const page = await fetch(url, { redirect: 'manual' })
  const cookie = page.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ')
  const html = await page.text()
  const field = (name: string): string => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? ''
  const res = await postForm(`${issuer}/authorize`, {
    interaction_id: field('interaction_id'), csrf_token: field('csrf_token'), ...WRONG,
  }, { cookie })
  await res.text()
  return res.status
}

t.test('the metrics route shows the counters moving, and never a token, secret or username', async (t) => {
  const redis = await requireRedis(t)
  if (redis === undefined) return
  const prefix = testPrefix()
  t.teardown(() => deleteKeys(redis, prefix))
  const receiver = await startReceiver(t)
  // Nothing listens there: a delivery (and a jwks_uri fetch) that fails at once.
  const closed = `http://127.0.0.1:${await freePort()}`
  const { app, issuer } = await start(t, {
    store: new RedisStore({ client: redis, prefix }),
    metrics: { route: '/metrics' },
    rateLimit: { loginFailures: 2 },
    outbound: { allowHttpLoopback: true, allowLoopback: true },
    clients: [
      { client_id: 'news-app', client_secret: 'news-app-secret-8d2e51f0aa', redirect_uris: [REDIRECT_URI], first_party: true, backchannel_logout_uri: `${closed}/backchannel` },
      { client_id: 'shop-app', client_secret: 'shop-app-secret-1b7c90e3d4', redirect_uris: [REDIRECT_URI], first_party: true, backchannel_logout_uri: receiver.url },
      { client_id: 'key-service', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `${closed.replace('http:', 'https:')}/jwks.json`, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'reports' },
    ],
  })

  const scrape = async (): Promise<string> => {
    const res = await fetch(`${issuer}/metrics`)
    t.equal(res.status, 200, 'GET /metrics: 200')
    t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/, 'Prometheus text format')
    t.equal(res.headers.get('cache-control'), 'no-store')
    return await res.text()
  }
  const before = await scrape()
  t.equal(sample(before, 'oidc_tokens_issued_total', { grant_type: 'authorization_code', client: WEB.client_id }), 0, 'nothing issued yet')
  t.ok(app.oidc.metrics?.registry instanceof Registry, 'app.oidc.metrics.registry is the prom-client registry served')

  // Code flow (login, first-party: no consent) and redemption.
  const browser = new HttpBrowser()
  const { verifier, challenge } = pkcePair()
  const authorize = new URL(`${issuer}/authorize`)
  authorize.search = new URLSearchParams({
    response_type: 'code',
    client_id: WEB.client_id,
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile offline_access',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'metrics-state',
  }).toString()
  const back = await browser.authorize(authorize, USER)
  const code = back.searchParams.get('code') ?? ''
  t.ok(code, 'a code')
  const redeem = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }
  const tokens = await (await postForm(`${issuer}/token`, redeem, basic(WEB))).json() as Record<string, string>
  t.ok(tokens.access_token !== undefined && tokens.refresh_token !== undefined && tokens.id_token !== undefined, 'tokens issued')

  // Refresh, then the rotated token again within the grace window (same successor).
  const first = await (await postForm(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, basic(WEB))).json() as Record<string, string>
  t.ok(first.refresh_token, 'refreshed')
  const retry = await (await postForm(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, basic(WEB))).json() as Record<string, string>
  t.equal(retry.refresh_token, first.refresh_token, 'a retry within the grace window gets the same successor')
  // The successor is used; the old token presented again is reuse (its family is revoked).
  const second = await postForm(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: first.refresh_token! }, basic(WEB))
  t.equal(second.status, 200, 'the successor refreshes')
  await second.text()
  t.equal((await postForm(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, basic(WEB))).status, 400, 'the rotated token once its successor was used: refused')
  // Last of the flow: a replayed code revokes what its first use issued (RFC 6749 §4.1.2).
  t.equal((await postForm(`${issuer}/token`, redeem, basic(WEB))).status, 400, 'the replayed code is refused')

  // SSO into two clients with back-channel logout URIs (one unreachable), then the host ends
  // the user's sessions: one delivery succeeds, one fails.
  for (const clientId of ['news-app', 'shop-app']) {
    const sso = new URL(authorize)
    sso.searchParams.set('client_id', clientId)
    t.ok((await browser.authorize(sso, USER)).searchParams.get('code'), `SSO code for ${clientId}`)
  }
  t.equal(await app.oidc.endAccountSessions(USER.sub), 1, 'the session ends')

  // private_key_jwt whose jwks_uri cannot be fetched.
  const { privateKey } = await generateKeyPair('ES256')
  const now = Math.floor(Date.now() / 1000)
  const clientAssertion = await new SignJWT({ iss: 'key-service', sub: 'key-service', aud: issuer, jti: crypto.randomUUID(), iat: now, exp: now + 60 })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey)
  t.equal((await postForm(`${issuer}/token`, {
    grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: clientAssertion,
  })).status, 401, 'no keys at the jwks_uri: invalid_client')

  // Two failed logins (the limit is 2: the second starts a lockout); client_credentials; a
  // dynamically registered client's client_credentials.
  t.equal(await failedLogin(issuer, WEB.client_id), 401, 'a wrong password is refused')
  await failedLogin(issuer, WEB.client_id)
  const service = await (await postForm(`${issuer}/token`, { grant_type: 'client_credentials', scope: 'reports' }, basic(SERVICE))).json() as Record<string, string>
  t.ok(service.access_token, 'client_credentials issued')
  const registered = await (await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'reports' }),
  })).json() as { client_id: string, client_secret: string, registration_access_token: string }
  const dynamicTokens = await (await postForm(`${issuer}/token`, { grant_type: 'client_credentials', scope: 'reports' }, basic(registered))).json() as Record<string, string>
  t.ok(dynamicTokens.access_token, 'the registered client got a token')
  t.equal((await postForm(`${issuer}/token`, { grant_type: 'client_credentials' }, basic({ ...SERVICE, client_secret: 'wrong-secret-0000000000' }))).status, 401, 'a wrong client secret is refused')

  // Deliveries run after the logout, never awaited by it: wait for both to be counted.
  const deadline = Date.now() + 10_000
  let after = await scrape()
  while (sample(after, 'oidc_backchannel_logout_deliveries_total', { result: 'failure', client: 'news-app' }) +
    sample(after, 'oidc_backchannel_logout_deliveries_total', { result: 'success', client: 'shop-app' }) < 2 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    after = await scrape()
  }
  const moved = (name: string, labels: Record<string, string> = {}): number => sample(after, name, labels) - sample(before, name, labels)
  t.equal(moved('oidc_tokens_issued_total', { grant_type: 'authorization_code', client: WEB.client_id }), 1, 'tokens issued: authorization_code, by static client id')
  t.equal(moved('oidc_tokens_issued_total', { grant_type: 'refresh_token', client: WEB.client_id }), 3, 'tokens issued: refresh_token (two rotations and a grace retry)')
  t.equal(moved('oidc_tokens_issued_total', { grant_type: 'client_credentials', client: SERVICE.client_id }), 1, 'tokens issued: client_credentials')
  t.equal(moved('oidc_tokens_issued_total', { grant_type: 'client_credentials', client: 'dynamic' }), 1, 'a registered client is labelled dynamic')
  t.equal(moved('oidc_logins_total', { result: 'success', client: WEB.client_id }), 1, 'logins: success')
  t.equal(moved('oidc_logins_total', { result: 'failure', client: WEB.client_id }), 2, 'logins: failure')
  t.equal(moved('oidc_logins_total', { result: 'locked', client: WEB.client_id }), 1, 'logins: locked (the failure that started the lockout)')
  t.equal(moved('oidc_refresh_grace_hits_total', { client: WEB.client_id }), 1, 'refresh grace hits')
  t.equal(moved('oidc_refresh_token_reuse_total', { client: WEB.client_id }), 1, 'refresh token reuse')
  t.equal(moved('oidc_backchannel_logout_deliveries_total', { result: 'success', client: 'shop-app' }), 1, 'back-channel deliveries: success')
  t.equal(moved('oidc_backchannel_logout_deliveries_total', { result: 'failure', client: 'news-app' }), 1, 'back-channel deliveries: failure')
  t.equal(receiver.hits(), 1, 'the receiver got its Logout Token')
  t.equal(moved('oidc_jwks_uri_fetches_total', { outcome: 'error' }), 1, 'jwks_uri fetches: error')
  t.equal(moved('oidc_code_replays_total', { client: WEB.client_id }), 1, 'code replays')
  t.equal(moved('oidc_client_auth_failures_total', { endpoint: 'token' }), 2, 'client authentication failures by endpoint (the jwks_uri client, the wrong secret)')
  t.ok(moved('oidc_store_operation_duration_seconds_count', { operation: 'consumeCode' }) >= 2, 'store latency: consumeCode timed (redemption and replay)')
  t.ok(moved('oidc_store_operation_duration_seconds_count', { operation: 'rotateRefreshToken' }) >= 2, 'store latency: rotateRefreshToken timed')
  t.equal(sample(after, 'oidc_store_operation_errors_total', { operation: 'consumeCode' }), 0, 'no store errors while Redis is up')
  t.equal(moved('oidc_http_request_duration_seconds_count', { method: 'POST', route: '/token', status_code: '200' }), 6, 'HTTP duration: POST /token 200 (code, two refreshes, retry, two client_credentials)')
  t.equal(moved('oidc_http_request_duration_seconds_count', { method: 'POST', route: '/token', status_code: '400' }), 2, 'HTTP duration: POST /token 400 (the reuse and the replay)')
  t.ok(moved('oidc_http_request_duration_seconds_count', { method: 'GET', route: '/authorize', status_code: '200' }) >= 1, 'HTTP duration: GET /authorize, the pattern without its query')
  t.ok(moved('oidc_http_request_duration_seconds_count', { method: 'POST', route: '/register', status_code: '201' }) === 1, 'HTTP duration: POST /register 201')
  t.equal(sample(after, 'oidc_http_request_duration_seconds_count', { route: '/metrics' }), 0, 'scrapes are not counted as provider traffic')
  t.notMatch(after, /route="[^"]*\?/, 'no route label holds a query string')

  // What must never appear: tokens, codes, secrets, usernames, passwords, accounts, created ids.
  const forbidden: Record<string, string> = {
    'access token': tokens.access_token!,
    'refresh token': tokens.refresh_token!,
    'rotated refresh token': first.refresh_token!,
    'id token': tokens.id_token!,
    'client_credentials token': service.access_token!,
    'registered client token': dynamicTokens.access_token!,
    'authorization code': code,
    'PKCE verifier': verifier,
    'static client secret': WEB.client_secret,
    'service secret': SERVICE.client_secret,
    'back-channel client secrets': 'news-app-secret-8d2e51f0aa',
    'other back-channel client secret': 'shop-app-secret-1b7c90e3d4',
    'client assertion': clientAssertion,
    'registered client secret': registered.client_secret,
    'registration access token': registered.registration_access_token,
    'registered client_id (unbounded)': registered.client_id,
    username: USER.username,
    password: USER.password,
    'failed username': WRONG.username,
    'failed password': WRONG.password,
    'account id': USER.sub,
    state: 'metrics-state',
  }
  for (const [what, value] of Object.entries(forbidden)) {
    t.notOk(after.includes(value), `the metrics never contain the ${what}`)
    // The JWTs' parts too: a signature or payload alone would be as bad.
    for (const part of value.split('.').filter((piece) => piece.length >= 16)) t.notOk(after.includes(part), `nor a part of the ${what}`)
  }
})

t.test('a host registry: the metrics are merged in, with a prefix, and leave with the app', async (t) => {
  const host = new Registry()
  const own = new Counter({ name: 'host_requests_total', help: 'the host app\'s own metric', registers: [host] })
  own.inc()
  const { app, issuer } = await start(t, { metrics: { registry: host, prefix: 'idp_' } })
  t.equal(app.oidc.metrics?.registry, host, 'app.oidc.metrics.registry is the host\'s registry')
  t.equal((await fetch(`${issuer}/metrics`)).status, 404, 'no route unless one is asked for')
  t.equal((await postForm(`${issuer}/token`, { grant_type: 'client_credentials', scope: 'reports' }, basic(SERVICE))).status, 200)
  const text = await host.metrics()
  t.equal(sample(text, 'host_requests_total'), 1, 'the host\'s metric is still there')
  t.equal(sample(text, 'idp_tokens_issued_total', { grant_type: 'client_credentials', client: SERVICE.client_id }), 1, 'the provider\'s, under its prefix')
  t.equal(sample(text, 'oidc_tokens_issued_total', { grant_type: 'client_credentials', client: SERVICE.client_id }), 0, 'and only under it')

  // A second provider on the same registry and prefix is refused at register, naming the option.
  const second = Fastify({ logger: false })
  t.teardown(() => second.close())
  await t.rejects(async () => { await second.register(oidcProvider, { issuer: 'http://localhost:3001', keys: testKeys(), cookieSecret: 'n'.repeat(32), metrics: { registry: host, prefix: 'idp_' } }); await second.ready() },
    { code: 'FST_OIDC_INVALID_OPTION', message: /metrics\.registry.*idp_tokens_issued_total/ }, 'the same names twice: a clear error')
  t.ok(host.getSingleMetric('idp_tokens_issued_total'), 'the first provider\'s metrics stay')

  await app.close()
  t.equal(host.getSingleMetric('idp_tokens_issued_total'), undefined, 'closing the app takes its metrics out of the host registry')
  t.ok(host.getSingleMetric('host_requests_total'), 'and leaves the host\'s')
  const again = Fastify({ logger: false })
  t.teardown(() => again.close())
  await again.register(oidcProvider, { issuer: 'http://localhost:3002', keys: testKeys(), cookieSecret: 'n'.repeat(32), metrics: { registry: host, prefix: 'idp_' } })
  await again.ready()
  t.ok(host.getSingleMetric('idp_tokens_issued_total'), 'a new app registers into the same registry again')
})

t.test('metrics: true: a registry of its own that the host merges with Registry.merge', async (t) => {
  const { app, issuer } = await start(t, { metrics: true })
  t.equal((await postForm(`${issuer}/token`, { grant_type: 'client_credentials', scope: 'reports' }, basic(SERVICE))).status, 200)
  const host = new Registry()
  new Counter({ name: 'host_jobs_total', help: 'host metric', registers: [host] }).inc(3)
  const merged = Registry.merge([host, app.oidc.metrics!.registry])
  const text = await merged.metrics()
  t.equal(sample(text, 'host_jobs_total'), 3, 'the host\'s metric in the merged registry')
  t.equal(sample(text, 'oidc_tokens_issued_total', { grant_type: 'client_credentials', client: SERVICE.client_id }), 1, 'and the provider\'s')
  t.equal(sample(text, 'oidc_http_request_duration_seconds_count', { method: 'POST', route: '/token', status_code: '200' }), 1, 'with its HTTP duration')
})

t.test('metrics off (the default): nothing to reach, nothing registered', async (t) => {
  const { app, issuer } = await start(t, {})
  t.equal(app.oidc.metrics, undefined, 'app.oidc.metrics is undefined')
  t.equal((await fetch(`${issuer}/metrics`)).status, 404, 'no /metrics route')
})

t.test('client metadata documents: fetched, cached and failed lookups are counted, by outcome only', async (t) => {
  const documents = createServer((request, response) => {
    request.resume()
    const url = `http://127.0.0.1:${(documents.address() as AddressInfo).port}${request.url ?? ''}`
    if (request.url !== '/tool.json') {
      response.writeHead(404).end()
      return
    }
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' }).end(JSON.stringify({
      client_id: url, client_name: 'Tool', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none',
    }))
  })
  await new Promise<void>((resolve) => documents.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { documents.closeAllConnections(); documents.close(() => { resolve() }) }))
  const base = `http://127.0.0.1:${(documents.address() as AddressInfo).port}`
  const { app, issuer } = await start(t, { metrics: true, clientIdMetadataDocuments: true, outbound: { allowHttpLoopback: true } })
  const authorize = async (clientId: string): Promise<number> => {
    const { challenge } = pkcePair()
    const res = await fetch(`${issuer}/authorize?${new URLSearchParams({
      response_type: 'code', client_id: clientId, redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256',
    })}`, { redirect: 'manual' })
    await res.text()
    return res.status
  }
  t.equal(await authorize(`${base}/tool.json`), 200, 'a document client gets the login page')
  t.equal(await authorize(`${base}/tool.json`), 200, 'again, from the cache')
  t.not(await authorize(`${base}/missing.json`), 200, 'a missing document is refused')
  const text = await app.oidc.metrics!.registry.metrics()
  t.equal(sample(text, 'oidc_client_metadata_fetches_total', { outcome: 'ok' }), 1, 'fetched once')
  t.ok(sample(text, 'oidc_client_metadata_fetches_total', { outcome: 'cached' }) >= 1, 'then answered from the cache')
  t.equal(sample(text, 'oidc_client_metadata_fetches_total', { outcome: 'error' }), 1, 'the missing one failed')
  t.notOk(text.includes(base) || text.includes('127.0.0.1'), 'no URL or host in the metrics')
})

t.test('the instrumented store is the store: same class, getters, results; errors counted', async (t) => {
  const registry = new Registry()
  const duration = new Histogram({ name: 'd_seconds', help: 'd', labelNames: ['operation'] as const, registers: [registry] })
  const errors = new Counter({ name: 'e_total', help: 'e', labelNames: ['operation'] as const, registers: [registry] })
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const timed = instrumentStore(store, duration, errors)
  t.ok(timed instanceof MemoryStore, 'instanceof still holds')
  t.equal(await timed.markUsed('n1', Math.floor(Date.now() / 1000) + 60), true, 'a call goes through')
  t.equal(await timed.markUsed('n1', Math.floor(Date.now() / 1000) + 60), false, 'to the same store')
  t.equal((timed as MemoryStore).size, store.size, 'a getter reading private fields works')
  t.equal(timed.markUsed, timed.markUsed, 'one wrapper per method')
  await t.rejects(timed.saveClient(null as unknown as ClientRecord), TypeError, 'a failing call still fails')
  const text = await registry.metrics()
  t.equal(sample(text, 'd_seconds_count', { operation: 'markUsed' }), 2, 'both calls timed')
  t.equal(sample(text, 'e_total', { operation: 'saveClient' }), 1, 'the failure counted')
  t.equal(sample(text, 'e_total', { operation: 'markUsed' }), 0, 'successes are not errors')
})

t.test('the metrics option is checked at register', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['a prefix that is no metric name', { prefix: 'bad-prefix' }, /metrics\.prefix/],
    ['a relative route', { route: 'metrics' }, /metrics\.route/],
    ['a registry that is not one', { registry: {} }, /metrics\.registry/],
    ['a string', 'yes', /"metrics"/],
  ]
  for (const [what, metrics, message] of cases) {
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(oidcProvider, { issuer: 'http://localhost:3000', keys: testKeys(), cookieSecret: 'n'.repeat(32), metrics: metrics as boolean }); await app.ready() },
      { code: 'FST_OIDC_INVALID_OPTION', message }, what)
  }
})
