import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildApp, ISSUER } from '../../helpers/app.js'
import { MemoryStore } from '../../../lib/index.js'
import type { ProviderCore } from '../../../lib/contracts/context.js'
import { createClientDirectory } from '../../../lib/clients/lookup.js'
import { nowSeconds, sha256 } from '../../../lib/tokens/crypto.js'

interface Registered {
  client_id: string
  client_secret?: string
  registration_access_token: string
  registration_client_uri: string
  client_id_issued_at: number
  [member: string]: unknown
}

const spaApp = {
  client_name: 'spa-app',
  redirect_uris: ['http://localhost:3000/callback'],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  scope: 'openid profile email',
}

type Assert = Pick<typeof t, 'equal' | 'match' | 'same'>

async function setup (t: { teardown (fn: () => unknown): void }, registration = {}): Promise<{ app: FastifyInstance, store: MemoryStore, client: Registered }> {
  const store = new MemoryStore()
  const app = await buildApp(t, { registration, store, clients: [{ client_id: 'host-app', client_secret: 'host-app-secret-0123456789', redirect_uris: ['https://host.example/cb'] }] })
  const res = await app.inject({ method: 'POST', url: '/register', payload: spaApp })
  return { app, store, client: res.json() }
}

function pathOf (client: Registered): string {
  return new URL(client.registration_client_uri).pathname
}

async function manage (
  app: FastifyInstance,
  method: 'GET' | 'PUT' | 'DELETE',
  path: string,
  token: string | undefined,
  body?: unknown
): Promise<LightMyRequestResponse> {
  return await app.inject({
    method,
    url: path,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  })
}

/** The same 401 whatever was wrong, so nothing tells whether the client exists. */
function assertUnauthorized (t: Assert, res: LightMyRequestResponse, message: string): void {
  t.equal(res.statusCode, 401, `${message}: 401`)
  t.equal(res.headers['cache-control'], 'no-store', `${message}: no-store`)
  t.match(res.headers['www-authenticate'], /^Bearer/, `${message}: Bearer challenge`)
  t.same(res.json().error, 'invalid_token', `${message}: invalid_token`)
}

/** The metadata a client sends back on update: what it got, minus what RFC 7592 §2.2 forbids. */
function updateBody (client: Registered, changes: Record<string, unknown> = {}): Record<string, unknown> {
  const { registration_access_token: _a, registration_client_uri: _b, client_id_issued_at: _c, client_secret_expires_at: _d, ...rest } = client
  return { ...rest, ...changes }
}

t.test('GET reads the registration (RFC 7592 §2.1)', async (t) => {
  const { app, client } = await setup(t)
  t.equal(client.registration_client_uri, `${ISSUER}/register/${client.client_id}`)
  const res = await manage(app, 'GET', pathOf(client), client.registration_access_token)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(res.headers.pragma, 'no-cache')
  const { client_secret: _secret, ...withoutSecret } = client
  t.same(res.json(), withoutSecret, 'the same information, without the secret (only its hash is kept)')
})

t.test('wrong, missing or foreign tokens and unknown or static clients all get the same 401', async (t) => {
  const { app, client } = await setup(t)
  const other = (await app.inject({ method: 'POST', url: '/register', payload: spaApp })).json() as Registered
  const path = pathOf(client)
  for (const method of ['GET', 'PUT', 'DELETE'] as const) {
    const body = method === 'PUT' ? updateBody(client) : undefined
    assertUnauthorized(t, await manage(app, method, path, undefined, body), `${method} without a token`)
    assertUnauthorized(t, await manage(app, method, path, 'not-the-token', body), `${method} with a wrong token`)
    assertUnauthorized(t, await manage(app, method, path, client.client_secret, body), `${method} with the client secret`)
    assertUnauthorized(t, await manage(app, method, path, other.registration_access_token, body), `${method} with another client's token`)
    assertUnauthorized(t, await manage(app, method, '/register/no-such-client', client.registration_access_token, body), `${method} on an unknown client`)
    assertUnauthorized(t, await manage(app, method, '/register/host-app', client.registration_access_token, body), `${method} on a static client`)
  }
  const unknown = await manage(app, 'GET', '/register/no-such-client', 'x')
  const wrong = await manage(app, 'GET', path, 'x')
  t.equal(unknown.body, wrong.body, 'identical bodies for unknown client and wrong token')
  t.equal(unknown.headers['www-authenticate'], wrong.headers['www-authenticate'])
  t.equal((await manage(app, 'GET', path, client.registration_access_token)).statusCode, 200, 'the client is still there')
})

t.test('PUT replaces the metadata (RFC 7592 §2.2)', async (t) => {
  const { app, store, client } = await setup(t)
  const events: Array<{ clientId: string }> = []
  app.oidc.on('client.updated', (event) => events.push(event))
  const before = await store.getClient(client.client_id)

  const res = await manage(app, 'PUT', pathOf(client), client.registration_access_token, updateBody(client, {
    redirect_uris: ['https://spa.example.com/callback', 'http://localhost:3000/callback'],
    client_name: undefined,
    logo_uri: 'https://spa.example.com/logo.png',
    unknown_member: 'ignored',
  }))
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  const body = res.json()
  t.same(body, {
    client_id: client.client_id,
    client_id_issued_at: client.client_id_issued_at,
    client_secret_expires_at: 0,
    registration_access_token: client.registration_access_token,
    registration_client_uri: client.registration_client_uri,
    redirect_uris: ['https://spa.example.com/callback', 'http://localhost:3000/callback'],
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid profile email',
    application_type: 'web',
    logo_uri: 'https://spa.example.com/logo.png',
  }, 'omitted members (client_name) are removed; no new secret')

  const after = await store.getClient(client.client_id)
  t.equal(after?.client_secret_hash, before?.client_secret_hash, 'the secret is unchanged')
  t.equal(after?.registration_access_token_hash, before?.registration_access_token_hash)
  t.equal(after?.client_name, undefined)
  t.same(after?.redirect_uris, body.redirect_uris)
  t.notOk(after !== undefined && 'unknown_member' in after)
  t.same(events, [{ clientId: client.client_id }])

  const read = await manage(app, 'GET', pathOf(client), client.registration_access_token)
  t.same(read.json(), body, 'a read sees the update')
})

t.test('PUT checks client_id and client_secret and validates like registration', async (t) => {
  const { app, store, client } = await setup(t)
  const path = pathOf(client)
  const token = client.registration_access_token
  const put = async (body: unknown): Promise<LightMyRequestResponse> => await manage(app, 'PUT', path, token, body)
  const cases: Array<[string, unknown, number, string]> = [
    ['missing client_id', updateBody(client, { client_id: undefined }), 400, 'invalid_client_metadata'],
    ['another client_id', updateBody(client, { client_id: 'someone-else' }), 400, 'invalid_client_metadata'],
    ['a client-chosen secret', updateBody(client, { client_secret: 'my-own-new-secret-value' }), 400, 'invalid_client_metadata'],
    ['a secret of the wrong type', updateBody(client, { client_secret: 12345 }), 400, 'invalid_client_metadata'],
    ['an invalid redirect', updateBody(client, { redirect_uris: ['http://evil.example/cb'] }), 400, 'invalid_redirect_uri'],
    ['first_party', updateBody(client, { first_party: true }), 400, 'invalid_client_metadata'],
    ['public + client_credentials', updateBody(client, { token_endpoint_auth_method: 'none', grant_types: ['client_credentials'], response_types: [] }), 400, 'invalid_client_metadata'],
    ['not an object', [updateBody(client)], 400, 'invalid_client_metadata'],
  ]
  const stored = JSON.stringify(await store.getClient(client.client_id))
  for (const [name, body, status, error] of cases) {
    const res = await put(body)
    t.equal(res.statusCode, status, `${name}: status`)
    t.equal(res.json().error, error, `${name}: ${error}`)
  }
  t.equal(JSON.stringify(await store.getClient(client.client_id)), stored, 'nothing was changed by the refused updates')

  const text = await app.inject({ method: 'PUT', url: path, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, payload: 'x' })
  t.equal(text.statusCode, 415)
  const malformed = await app.inject({ method: 'PUT', url: path, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: '{"client_id":' })
  t.equal(malformed.statusCode, 400)
  t.equal(malformed.json().error, 'invalid_client_metadata')

  const withSecret = await put(updateBody(client, { client_name: 'with secret' }))
  t.equal(withSecret.statusCode, 200, 'the current client_secret in the body is accepted')
  t.equal(withSecret.json().client_name, 'with secret')
})

t.test('PUT can make a client public (secret dropped) and confidential again (new secret issued)', async (t) => {
  const { app, store, client } = await setup(t)
  const path = pathOf(client)
  const token = client.registration_access_token
  const asPublic = await manage(app, 'PUT', path, token, updateBody(client, { client_secret: undefined, token_endpoint_auth_method: 'none' }))
  t.equal(asPublic.statusCode, 200)
  t.notOk('client_secret' in asPublic.json())
  t.equal((await store.getClient(client.client_id))?.client_secret_hash, undefined, 'the old secret is gone')

  const asConfidential = await manage(app, 'PUT', path, token, updateBody(client, { client_secret: undefined, token_endpoint_auth_method: 'client_secret_post' }))
  t.equal(asConfidential.statusCode, 200)
  const secret = asConfidential.json().client_secret as string
  t.match(secret, /^[A-Za-z0-9_-]{43}$/, 'a new secret is issued in the response')
  t.not(secret, client.client_secret)
  t.equal((await store.getClient(client.client_id))?.client_secret_hash, sha256(secret))
})

t.test('PUT runs the policy hook too', async (t) => {
  const { app, client } = await setup(t, {
    validate: (metadata: Record<string, unknown>) => ({ ...metadata, client_name: `[checked] ${String(metadata.client_name ?? '')}` }),
  })
  t.equal(client.client_name, '[checked] spa-app')
  const res = await manage(app, 'PUT', pathOf(client), client.registration_access_token, updateBody(client, { client_name: 'new name' }))
  t.equal(res.json().client_name, '[checked] new name')
})

t.test('DELETE removes the client and revokes its grants (RFC 7592 §2.3)', async (t) => {
  const { app, store, client } = await setup(t)
  const events: string[] = []
  app.oidc.on('client.deleted', (event) => events.push(`deleted ${event.clientId}`))
  app.oidc.on('grant.revoked', (event) => events.push(`revoked ${String(event.clientId)} ${event.reason}`))
  const now = nowSeconds()
  const grant = { grantId: 'grant-1', accountId: 'user-1', clientId: client.client_id, scope: 'openid', createdAt: now, expiresAt: now + 3600 }
  const otherGrant = { ...grant, grantId: 'grant-2', clientId: 'host-app' }
  await store.saveGrant(grant)
  await store.saveGrant(otherGrant)
  t.equal(await store.isAccessTokenRevoked('jti-1', 'grant-1'), false, 'the access token works before')

  const wrong = await manage(app, 'DELETE', pathOf(client), 'wrong-token')
  t.equal(wrong.statusCode, 401)
  t.ok(await store.getClient(client.client_id), 'a wrong token deletes nothing')

  const res = await manage(app, 'DELETE', pathOf(client), client.registration_access_token)
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  t.equal(await store.getClient(client.client_id), undefined)
  const clients = createClientDirectory({ staticClients: new Map(), store, options: {} } as unknown as ProviderCore)
  t.equal(await clients.find(client.client_id), undefined, 'the client directory no longer finds it')
  t.equal(await store.findGrant('user-1', client.client_id), undefined, 'its grant is revoked')
  t.equal(await store.getGrant('grant-1'), undefined)
  t.equal(await store.isAccessTokenRevoked('jti-1', 'grant-1'), true, 'its access tokens stop working')
  t.ok(await store.getGrant('grant-2'), 'other clients\' grants are untouched')
  t.same(events, [`deleted ${client.client_id}`, `revoked ${client.client_id} client_deleted`])

  assertUnauthorized(t, await manage(app, 'GET', pathOf(client), client.registration_access_token), 'GET after delete')
  assertUnauthorized(t, await manage(app, 'DELETE', pathOf(client), client.registration_access_token), 'DELETE twice')
})
