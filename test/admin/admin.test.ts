import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { MemoryStore, oidcAdmin, oidcProvider, oidcResourceServer, type AuditRecord } from '../../lib/index.js'
import { testKeys } from '../helpers/keys.js'
import { basic, postForm } from '../helpers/codes.js'

// Client administration: app.oidc.clients and the oidcAdmin plugin behind the resource server.
const ISSUER = 'http://localhost:3000'
const ADMIN_API = `${ISSUER}/admin`
const ADMIN = { client_id: 'ops', client_secret: 'ops-secret-0123456789abcdef' }
const READER = { client_id: 'reader', client_secret: 'reader-secret-0123456789abcdef' }

async function setup (t: Test): Promise<{ app: FastifyInstance, audit: AuditRecord[] }> {
  const store = new MemoryStore()
  const app = Fastify({ logger: false })
  await app.register(oidcProvider, {
    issuer: ISSUER,
    keys: testKeys(),
    cookieSecret: 'x'.repeat(32),
    store,
    clients: [
      { ...ADMIN, grant_types: ['client_credentials'], scope: 'oidc:admin' },
      { ...READER, grant_types: ['client_credentials'], scope: 'other' },
      { client_id: 'static-web', client_secret: 'static-secret-0123456789abcdef', redirect_uris: ['https://static.example/cb'] },
    ],
    resourceServers: [{ resource: ADMIN_API, scopes: { 'oidc:admin': 'Administer clients', other: 'Something else' } }],
  })
  await app.register(async (admin) => {
    await admin.register(oidcResourceServer, { resource: ADMIN_API, issuer: ISSUER, keys: app.oidc, metadata: false })
    await admin.register(oidcAdmin, { scope: 'oidc:admin' })
  }, { prefix: '/admin' })
  await app.ready()
  t.teardown(async () => { await app.close(); await store.close() })
  const audit: AuditRecord[] = []
  app.oidc.onAudit((record) => audit.push(record))
  return { app, audit }
}

async function adminToken (app: FastifyInstance, credentials = ADMIN, scope = 'oidc:admin'): Promise<string> {
  const res = await postForm(app, '/token', { grant_type: 'client_credentials', scope, resource: ADMIN_API }, { authorization: basic(credentials.client_id, credentials.client_secret) })
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.json().access_token as string
}

t.test('oidcAdmin: the admin scope is required; CRUD, rotation with overlap, list; static clients read-only', async (t) => {
  const { app, audit } = await setup(t)
  const noToken = await app.inject({ url: '/admin/clients' })
  t.equal(noToken.statusCode, 401)
  t.match(noToken.headers['www-authenticate'], /^Bearer/)
  const wrongScope = await app.inject({ url: '/admin/clients', headers: { authorization: `Bearer ${await adminToken(app, READER, 'other')}` } })
  t.equal(wrongScope.statusCode, 403)
  t.match(wrongScope.headers['www-authenticate'], /error="insufficient_scope"/)

  const auth = { authorization: `Bearer ${await adminToken(app)}` }
  const created = await app.inject({
    method: 'POST',
    url: '/admin/clients',
    headers: auth,
    payload: { client_name: 'Billing', grant_types: ['client_credentials'], scope: 'openid', token_endpoint_auth_method: 'client_secret_basic' },
  })
  t.equal(created.statusCode, 201, created.body)
  t.equal(created.headers['cache-control'], 'no-store')
  const { client, client_secret: secret } = created.json()
  t.type(secret, 'string', 'the secret is shown once')
  t.notOk('client_secret_hash' in client, 'never a hash')
  const cc = async (clientSecret: string): Promise<number> => (await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: basic(client.client_id, clientSecret) })).statusCode
  t.equal(await cc(secret), 200, 'the new client authenticates')

  const read = await app.inject({ url: `/admin/clients/${client.client_id}`, headers: auth })
  t.equal(read.json().client_name, 'Billing')
  t.notOk(read.body.includes(secret), 'reading never shows the secret')

  const rotated = await app.inject({ method: 'POST', url: `/admin/clients/${client.client_id}/secret`, headers: auth, payload: { overlap_seconds: 60 } })
  const second = rotated.json().client_secret as string
  t.equal(await cc(second), 200, 'a rotated secret works at once')
  t.equal(await cc(secret), 200, 'the old one during the overlap')
  t.type(rotated.json().client.previous_secret_expires_at, 'number')
  const third = (await app.inject({ method: 'POST', url: `/admin/clients/${client.client_id}/secret`, headers: auth, payload: {} })).json().client_secret as string
  t.equal(await cc(third), 200)
  t.equal(await cc(second), 401, 'without an overlap the old secret stops at once')
  t.equal(await cc(secret), 401)

  const updated = await app.inject({ method: 'PUT', url: `/admin/clients/${client.client_id}`, headers: auth, payload: { client_id: client.client_id, client_name: 'Billing 2', grant_types: ['client_credentials'], scope: 'openid' } })
  t.equal(updated.json().client.client_name, 'Billing 2', updated.body)
  t.equal(await cc(third), 200, 'an update keeps the secret')
  const badUpdate = await app.inject({ method: 'PUT', url: `/admin/clients/${client.client_id}`, headers: auth, payload: { client_id: 'someone-else' } })
  t.equal(badUpdate.json().error, 'invalid_client_metadata')

  const list = await app.inject({ url: '/admin/clients?limit=2', headers: auth })
  const everyId = [client.client_id, 'ops', 'reader', 'static-web'].sort()
  t.same(list.json().clients.map((c: { client_id: string }) => c.client_id), everyId.slice(0, 2), 'static and stored clients, by id')
  const rest = await app.inject({ url: `/admin/clients?limit=2&after=${encodeURIComponent(list.json().next as string)}`, headers: auth })
  t.same(rest.json().clients.map((c: { client_id: string }) => c.client_id), everyId.slice(2))
  const search = await app.inject({ url: '/admin/clients?search=billing', headers: auth })
  t.same(search.json().clients.map((c: { client_id: string }) => c.client_id), [client.client_id], 'filtered by name')
  const statics = (await app.inject({ url: '/admin/clients?search=static', headers: auth })).json().clients
  t.match(statics, [{ client_id: 'static-web', static: true }])

  t.equal((await app.inject({ method: 'PUT', url: '/admin/clients/static-web', headers: auth, payload: {} })).statusCode, 409, 'static clients are read-only')
  t.equal((await app.inject({ method: 'DELETE', url: '/admin/clients/static-web', headers: auth })).statusCode, 409)
  t.equal((await app.inject({ method: 'DELETE', url: `/admin/clients/${client.client_id}`, headers: auth })).statusCode, 204)
  t.equal((await app.inject({ url: `/admin/clients/${client.client_id}`, headers: auth })).statusCode, 404)
  t.equal(await cc(third), 401, 'a deleted client cannot authenticate')

  const events = audit.map((record) => record.event)
  for (const name of ['client.created', 'client.secret_rotated', 'client.updated', 'client.deleted', 'admin.call'] as const) t.ok(events.includes(name), name)
  t.match(audit.find((record) => record.event === 'admin.call' && record.outcome === 'failure'), { detail: { statusCode: 401, method: 'GET' } })
  t.match(audit.find((record) => record.event === 'admin.call' && record.outcome === 'success'), { detail: { subject: 'ops' } })
  const text = JSON.stringify(audit)
  for (const value of [secret, second, third]) t.notOk(text.includes(value), 'no secret in the audit stream')
})
