/**
 * A Redis outage seen over HTTP (issue 6): the example server (its ioredis options from
 * examples/redis.ts) on a private redis-server that the test stops mid-test. Every endpoint
 * that needs the store answers 503 temporarily_unavailable within a bound — JSON on the API,
 * an HTML page on /authorize — and issues nothing; discovery and JWKS keep serving; when Redis
 * is back on the same port the same provider, never restarted, completes the flow again.
 */
import t from 'tap'
import { requireRedisServer, startRedisServer } from '../../helpers/redis.js'
import { basicAuth, type RegisteredClient } from '../../helpers/redis-instances.js'
import {
  authorizationUrl,
  fullFlow,
  obtainCode,
  postForm,
  redeemCode,
  register,
  waitUntil,
} from '../../helpers/redis-http.js'
import { startExampleServer } from '../../helpers/example-server.js'
import { HttpBrowser } from '../../helpers/http-browser.js'

/** The bound a request may take while Redis is down (the example's timeouts are 1-2 s). */
const BOUND_MS = 3000

if (requireRedisServer(t)) {
  t.test('Redis stopped: 503 within the bound, discovery and JWKS still 200; restarted: the flow works again', async (t) => {
    const redis = await startRedisServer(t)
    const { issuer } = await startExampleServer(t, { REDIS_URL: redis.url })

    // Before: the whole flow, plus what the outage requests will carry.
    const { client, tokens } = await fullFlow(issuer)
    t.ok(tokens.access_token, 'the flow works before the outage')
    const registered = await register(issuer, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] })
    t.equal(registered.status, 201, 'a client_credentials client is registered')
    const service = await registered.json() as RegisteredClient
    t.equal((await postForm(`${issuer}/token`, { grant_type: 'client_credentials' }, basicAuth(service))).status, 200, 'client_credentials works before')
    // A signed-in browser for the account page (the example server turns it on).
    const signedIn = new HttpBrowser()
    const pendingCode = await obtainCode(issuer, client, signedIn)
    t.equal((await signedIn.send(`${issuer}/account`)).status, 200, 'the account page before the outage')

    await redis.stop()

    /** Sends one request while Redis is down and checks the 503 (body type, headers, timing). */
    const unavailable = async (what: string, send: () => Promise<Response>, html = false): Promise<void> => {
      const started = Date.now()
      const res = await send()
      const elapsed = Date.now() - started
      const body = await res.text()
      t.equal(res.status, 503, `${what}: 503`)
      t.ok(elapsed < BOUND_MS, `${what}: answered in ${elapsed} ms (< ${BOUND_MS})`)
      t.equal(res.headers.get('cache-control'), 'no-store', `${what}: no-store`)
      t.ok(Number(res.headers.get('retry-after')) > 0, `${what}: Retry-After`)
      t.notMatch(body, /access_token|id_token|refresh_token|"code"|\bat [^ ]+\.(ts|js):\d+/, `${what}: no token, no stack trace`)
      if (html) {
        t.match(res.headers.get('content-type'), /^text\/html/, `${what}: an HTML page`)
        t.match(body, /temporarily_unavailable/, `${what}: the page names the error`)
        t.equal(res.headers.get('location'), null, `${what}: no redirect`)
      } else {
        t.match(res.headers.get('content-type'), /^application\/json/, `${what}: JSON`)
        t.same(Object.keys(JSON.parse(body) as object).sort(), ['error', 'error_description'])
        t.equal((JSON.parse(body) as { error: string }).error, 'temporarily_unavailable', `${what}: temporarily_unavailable`)
      }
    }

    await unavailable('POST /token client_credentials', async () =>
      await postForm(`${issuer}/token`, { grant_type: 'client_credentials' }, basicAuth(service)))
    await unavailable('POST /token authorization_code', async () => await redeemCode(issuer, client, pendingCode))
    await unavailable('POST /token refresh_token', async () =>
      await postForm(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, basicAuth(client)))
    await unavailable('GET /authorize', async () => await fetch(authorizationUrl(issuer, client).url, { redirect: 'manual' }), true)
    await unavailable('GET /userinfo', async () =>
      await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } }))
    await unavailable('POST /register', async () => await register(issuer))
    await unavailable('GET /account', async () => await signedIn.send(`${issuer}/account`), true)
    await unavailable('POST /introspect', async () => await postForm(`${issuer}/introspect`, { token: tokens.access_token }, basicAuth(client)))
    await unavailable('POST /revoke', async () => await postForm(`${issuer}/revoke`, { token: tokens.refresh_token }, basicAuth(client)))

    for (const path of ['/.well-known/openid-configuration', '/jwks.json']) {
      const started = Date.now()
      const res = await fetch(`${issuer}${path}`)
      t.equal(res.status, 200, `${path} still 200 while Redis is down`)
      t.ok(Date.now() - started < BOUND_MS, `${path}: not held up by the outage`)
      t.ok(await res.json(), `${path}: a JSON body`)
    }

    // Same port, same provider process: ioredis reconnects on its own (retryStrategy).
    await redis.start()
    const recovered = await waitUntil(async () => (await register(issuer)).status === 201)
    t.ok(recovered !== undefined, `registration works again without restarting the provider (${String(recovered)} ms)`)
    // The restarted Redis is empty (no persistence): the flow starts over, and completes.
    const again = await fullFlow(issuer)
    const info = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${again.tokens.access_token}` } })
    t.equal(info.status, 200, 'userinfo after the recovery')
    t.equal((await info.json() as { sub: string }).sub, 'demo')
    const refreshed = await postForm(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: again.tokens.refresh_token }, basicAuth(again.client))
    t.equal(refreshed.status, 200, 'refresh after the recovery')
    const code = await obtainCode(issuer, again.client)
    t.equal(code.iss, issuer, 'and a new code, with iss (RFC 9207)')
    t.equal((await redeemCode(issuer, again.client, code)).status, 200, 'which is redeemed')
  })
}
