import t from 'tap'
import { Writable } from 'node:stream'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildApp, ISSUER } from '../../helpers/app.js'
import { MemoryStore, OAuthError, StoreUnavailableError, type ClientMetadata } from '../../../lib/index.js'
import { sha256 } from '../../../lib/tokens/crypto.js'

/** The two registration bodies of the seed spec (§3.5 and the quick-start script). */
const spaApp = {
  client_name: 'spa-app',
  redirect_uris: ['http://localhost:3000/callback'],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  scope: 'openid profile email',
}
const mobileApp = {
  client_name: 'mobile-app',
  redirect_uris: ['com.myapp://callback'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: 'openid profile email',
}

type Assert = Pick<typeof t, 'equal' | 'match' | 'notMatch'>

async function register (app: FastifyInstance, body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({
    method: 'POST',
    url: '/register',
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

/** Status, content type, no-store and the RFC error body, all together. */
function assertError (t: Assert, res: LightMyRequestResponse, status: number, error: string, message: string): void {
  t.equal(res.statusCode, status, `${message}: status`)
  t.match(res.headers['content-type'], /^application\/json/, `${message}: JSON`)
  t.equal(res.headers['cache-control'], 'no-store', `${message}: no-store`)
  t.match(res.json(), { error, error_description: String }, `${message}: error body`)
  t.notMatch(res.body, /"stack"|at .*\.ts:\d+/, `${message}: no stack trace`)
}

t.test('the seed spa-app body registers: 201 with the client information response (RFC 7591 §3.2.1)', async (t) => {
  const store = new MemoryStore()
  const app = await buildApp(t, { registration: {}, store })
  const before = Math.floor(Date.now() / 1000)
  const res = await register(app, spaApp)
  t.equal(res.statusCode, 201)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(res.headers.pragma, 'no-cache')
  const body = res.json()
  t.match(body.client_id, /^[A-Za-z0-9_-]{22}$/, '128-bit client_id')
  t.match(body.client_secret, /^[A-Za-z0-9_-]{43}$/, '256-bit client_secret')
  t.match(body.registration_access_token, /^[A-Za-z0-9_-]{43}$/, '256-bit registration access token')
  t.ok(body.client_id_issued_at >= before && body.client_id_issued_at <= before + 5)
  t.same(body, {
    client_id: body.client_id,
    client_secret: body.client_secret,
    client_id_issued_at: body.client_id_issued_at,
    client_secret_expires_at: 0,
    registration_access_token: body.registration_access_token,
    registration_client_uri: `${ISSUER}/register/${body.client_id}`,
    redirect_uris: ['http://localhost:3000/callback'],
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid profile email',
    application_type: 'web',
    client_name: 'spa-app',
  })

  const stored = await store.getClient(body.client_id)
  t.ok(stored)
  t.equal(stored?.client_secret_hash, sha256(body.client_secret), 'the secret is stored as its SHA-256')
  t.equal(stored?.registration_access_token_hash, sha256(body.registration_access_token), 'so is the registration token')
  const raw = JSON.stringify(stored)
  t.notMatch(raw, body.client_secret, 'the raw secret is not stored')
  t.notMatch(raw, body.registration_access_token, 'the raw registration token is not stored')
  t.equal(stored?.first_party, undefined)

  const second = (await register(app, spaApp)).json()
  t.not(second.client_id, body.client_id, 'every registration gets its own client')
  t.not(second.client_secret, body.client_secret)
})

t.test('the seed mobile-app body registers as a native client with refresh tokens', async (t) => {
  const app = await buildApp(t, { registration: {} })
  const res = await register(app, mobileApp)
  t.equal(res.statusCode, 201)
  t.match(res.json(), {
    client_name: 'mobile-app',
    redirect_uris: ['com.myapp://callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    application_type: 'native',
    scope: 'openid profile email',
  })
})

t.test('a public client gets no secret and nothing secret is stored for it', async (t) => {
  const store = new MemoryStore()
  const app = await buildApp(t, { registration: {}, store })
  const res = await register(app, { ...mobileApp, token_endpoint_auth_method: 'none' })
  t.equal(res.statusCode, 201)
  const body = res.json()
  t.equal(body.token_endpoint_auth_method, 'none')
  t.notOk('client_secret' in body)
  t.notOk('client_secret_expires_at' in body, 'client_secret_expires_at only comes with a secret')
  t.equal((await store.getClient(body.client_id))?.client_secret_hash, undefined)
})

t.test('defaults are filled in and unknown metadata is ignored, not stored', async (t) => {
  const store = new MemoryStore()
  const app = await buildApp(t, { registration: {}, store })
  const res = await register(app, {
    redirect_uris: ['https://app.example.com/cb'],
    software_id: 'abc',
    client_id: 'i-choose-my-id',
    client_secret: 'i-choose-my-secret-too',
    is_admin: true,
    registration_access_token_hash: 'x',
  })
  t.equal(res.statusCode, 201)
  const body = res.json()
  t.not(body.client_id, 'i-choose-my-id')
  t.not(body.client_secret, 'i-choose-my-secret-too')
  t.match(body, { token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code'], response_types: ['code'], application_type: 'web', scope: 'openid profile email address phone offline_access' })
  for (const member of ['software_id', 'is_admin']) t.notOk(member in body, `${member} is not echoed`)
  const stored = await store.getClient(body.client_id) as unknown as Record<string, unknown>
  for (const member of ['software_id', 'is_admin']) t.notOk(member in stored, `${member} is not stored`)
  t.equal(stored.registration_access_token_hash, sha256(body.registration_access_token))
})

t.test('every invalid case answers its RFC 7591 §3.2.2 code', async (t) => {
  const app = await buildApp(t, { registration: {} })
  const web = { redirect_uris: ['https://app.example.com/cb'] }
  const cases: Array<[string, unknown, 'invalid_redirect_uri' | 'invalid_client_metadata']> = [
    ['relative redirect', { redirect_uris: ['/cb'] }, 'invalid_redirect_uri'],
    ['fragment', { redirect_uris: ['https://app.example.com/cb#frag'] }, 'invalid_redirect_uri'],
    ['javascript:', { redirect_uris: ['javascript:alert(document.cookie)'] }, 'invalid_redirect_uri'],
    ['data:', { redirect_uris: ['data:text/html,<script>alert(1)</script>'] }, 'invalid_redirect_uri'],
    ['http non-loopback for web', { redirect_uris: ['http://app.example.com/cb'] }, 'invalid_redirect_uri'],
    ['custom scheme for web', { redirect_uris: ['com.myapp://callback'], application_type: 'web' }, 'invalid_redirect_uri'],
    ['inconsistent grant/response types', { ...web, grant_types: ['authorization_code'], response_types: [] }, 'invalid_client_metadata'],
    ['response type without its grant', { grant_types: ['client_credentials'], response_types: ['code'] }, 'invalid_client_metadata'],
    ['unsupported grant type', { ...web, grant_types: ['implicit'], response_types: ['token'] }, 'invalid_client_metadata'],
    ['none + client_credentials', { grant_types: ['client_credentials'], token_endpoint_auth_method: 'none' }, 'invalid_client_metadata'],
    ['non-http logo_uri', { ...web, logo_uri: 'javascript:alert(1)' }, 'invalid_client_metadata'],
    ['non-http tos_uri', { ...web, tos_uri: 'data:text/html,x' }, 'invalid_client_metadata'],
    ['non-http policy_uri', { ...web, policy_uri: 'vbscript:x' }, 'invalid_client_metadata'],
    ['non-http client_uri', { ...web, client_uri: 'javascript:alert(1)' }, 'invalid_client_metadata'],
    ['redirect_uris of the wrong type', { redirect_uris: 'https://app.example.com/cb' }, 'invalid_client_metadata'],
    ['client_name of the wrong type', { ...web, client_name: { en: 'x' } }, 'invalid_client_metadata'],
    ['grant_types of the wrong type', { ...web, grant_types: 'authorization_code' }, 'invalid_client_metadata'],
    ['first_party', { ...web, first_party: true }, 'invalid_client_metadata'],
    ['missing redirect_uris', { client_name: 'x' }, 'invalid_client_metadata'],
    ['a JSON array', [web], 'invalid_client_metadata'],
    ['a JSON string', '"hello"', 'invalid_client_metadata'],
    ['JSON null', 'null', 'invalid_client_metadata'],
  ]
  for (const [name, body, code] of cases) assertError(t, await register(app, body), 400, code, name)
})

t.test('body format: JSON only, size-limited, parsed safely', async (t) => {
  const app = await buildApp(t, { registration: {} })
  const valid = JSON.stringify(spaApp)

  const charset = await register(app, valid, { 'content-type': 'Application/JSON; charset=utf-8' })
  t.equal(charset.statusCode, 201, 'media type parameters and case do not matter')

  const text = await app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'text/plain' }, payload: valid })
  assertError(t, text, 415, 'invalid_client_metadata', 'text/plain')
  const form = await app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'client_name=x&redirect_uris=https://a.example/cb' })
  assertError(t, form, 415, 'invalid_client_metadata', 'a form is not JSON')
  const none = await app.inject({ method: 'POST', url: '/register' })
  assertError(t, none, 415, 'invalid_client_metadata', 'no body, no content type')

  assertError(t, await register(app, '{"client_name": '), 400, 'invalid_client_metadata', 'malformed JSON')
  assertError(t, await register(app, ''), 400, 'invalid_client_metadata', 'empty body')
  assertError(t, await register(app, '{"redirect_uris":["https://a.example/cb"],"__proto__":{"first_party":true}}'), 400, 'invalid_client_metadata', '__proto__ key')
  assertError(t, await register(app, '{"redirect_uris":["https://a.example/cb"],"constructor":{"prototype":{"x":1}}}'), 400, 'invalid_client_metadata', 'constructor key')

  const huge = await register(app, { ...spaApp, client_name: 'x'.repeat(65 * 1024) })
  t.equal(huge.statusCode, 413, 'bodies over 64 KiB are refused')
  t.match(huge.json(), { error: String })
})

t.test('registration is off by default: no route', async (t) => {
  const app = await buildApp(t)
  t.equal((await register(app, spaApp)).statusCode, 404)
  t.equal((await app.inject({ url: '/register/abc', headers: { authorization: 'Bearer abc' } })).statusCode, 404)
})

t.test('initial access token (RFC 7591 §3, RFC 6750 §3.1)', async (t) => {
  const tokens = ['first-initial-access-token', 'second-initial-access-token']
  const app = await buildApp(t, { registration: { initialAccessToken: tokens } })

  const missing = await register(app, spaApp)
  assertError(t, missing, 401, 'invalid_token', 'missing token')
  t.equal(missing.headers['www-authenticate'], 'Bearer', 'no error attribute when no credentials were sent')

  const basic = await register(app, spaApp, { authorization: 'Basic Zm9vOmJhcg==' })
  assertError(t, basic, 401, 'invalid_token', 'another scheme')
  t.equal(basic.headers['www-authenticate'], 'Bearer')

  const wrong = await register(app, spaApp, { authorization: 'Bearer first-initial-access-tokeN' })
  assertError(t, wrong, 401, 'invalid_token', 'wrong token')
  t.match(wrong.headers['www-authenticate'], /^Bearer error="invalid_token"/)

  const malformed = await register(app, spaApp, { authorization: 'Bearer a b' })
  assertError(t, malformed, 400, 'invalid_request', 'malformed Bearer header')
  t.match(malformed.headers['www-authenticate'], /^Bearer error="invalid_request"/)

  const unauthenticatedText = await app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'text/plain' }, payload: 'x' })
  t.equal(unauthenticatedText.statusCode, 401, 'the token is checked before anything about the body is said')

  t.equal((await register(app, spaApp, { authorization: `Bearer ${tokens[0]}` })).statusCode, 201)
  t.equal((await register(app, spaApp, { authorization: `bearer ${tokens[1]}` })).statusCode, 201, 'every configured token works; the scheme is case-insensitive')
})

t.test('a single initial access token string works too', async (t) => {
  const app = await buildApp(t, { registration: { initialAccessToken: 'only-one-initial-token' } })
  t.equal((await register(app, spaApp, { authorization: 'Bearer only-one-initial-token' })).statusCode, 201)
  t.equal((await register(app, spaApp, { authorization: 'Bearer only-one-initial-tokeX' })).statusCode, 401)
})

t.test('the policy hook can accept, change or reject, and its result is validated again', async (t) => {
  const seen: ClientMetadata[] = []
  const app = await buildApp(t, {
    registration: {
      validate (metadata, request) {
        seen.push(metadata)
        t.equal(request.url, '/register', 'the hook gets the request')
        switch (metadata.client_name) {
          case 'rename me': return { ...metadata, client_name: 'renamed', scope: 'openid' }
          case 'reject me': throw new OAuthError('invalid_client_metadata', 'client_name is not allowed here')
          case 'sneak first party': return { ...metadata, first_party: true }
          case 'bad redirect': return { ...metadata, redirect_uris: ['http://evil.example/cb'] }
          case 'buggy': throw new Error('database password is hunter2')
          case 'forgot return': return undefined as unknown as ClientMetadata
          default: return metadata
        }
      },
    },
  })
  const accepted = await register(app, spaApp)
  t.equal(accepted.statusCode, 201)
  t.match(seen[0], { client_name: 'spa-app', application_type: 'web', token_endpoint_auth_method: 'client_secret_basic' }, 'the hook sees validated metadata with defaults')

  const changed = await register(app, { ...spaApp, client_name: 'rename me' })
  t.equal(changed.statusCode, 201)
  t.match(changed.json(), { client_name: 'renamed', scope: 'openid' }, 'the hook\'s changes are what gets registered')

  const rejected = await register(app, { ...spaApp, client_name: 'reject me' })
  assertError(t, rejected, 400, 'invalid_client_metadata', 'rejected by the hook')
  t.equal(rejected.json().error_description, 'client_name is not allowed here', 'the hook\'s OAuthError goes out as-is')

  assertError(t, await register(app, { ...spaApp, client_name: 'sneak first party' }), 400, 'invalid_client_metadata', 'hook cannot grant first_party')
  assertError(t, await register(app, { ...spaApp, client_name: 'bad redirect' }), 400, 'invalid_redirect_uri', 'hook output is validated')

  const buggy = await register(app, { ...spaApp, client_name: 'buggy' })
  assertError(t, buggy, 500, 'server_error', 'a hook bug')
  t.notMatch(buggy.body, /hunter2/, 'the cause is not sent')
  assertError(t, await register(app, { ...spaApp, client_name: 'forgot return' }), 500, 'server_error', 'a hook that returns nothing')
})

t.test('registration emits client.registered and never logs the secrets', async (t) => {
  let logs = ''
  const stream = new Writable({ write (chunk, _encoding, done) { logs += String(chunk); done() } })
  const app = await buildApp(t, { registration: {} }, { logger: { level: 'trace', stream } })
  const events: Array<{ clientId: string, ip: string }> = []
  app.oidc.on('client.registered', (event) => events.push(event))
  const body = (await register(app, spaApp)).json()
  t.same(events, [{ clientId: body.client_id, ip: '127.0.0.1' }])
  t.match(logs, body.client_id, 'the registration is logged')
  t.notMatch(logs, body.client_secret, 'the client secret is not')
  t.notMatch(logs, body.registration_access_token, 'the registration access token is not')
})

t.test('a store outage answers 503 temporarily_unavailable, not a 500', async (t) => {
  class DownStore extends MemoryStore {
    override async saveClient (): Promise<void> { throw new StoreUnavailableError() }
    override async getClient (): Promise<undefined> { throw new StoreUnavailableError() }
  }
  const app = await buildApp(t, { registration: {}, store: new DownStore() })
  assertError(t, await register(app, spaApp), 503, 'temporarily_unavailable', 'register during an outage')
  const read = await app.inject({ url: '/register/some-client', headers: { authorization: 'Bearer some-token' } })
  assertError(t, read, 503, 'temporarily_unavailable', 'read during an outage')
})
