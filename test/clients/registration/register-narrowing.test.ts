/**
 * Issue 12's store edge cases seen through RFC 7592 management: an update racing a delete never
 * resurrects the client, and an update that narrows a client applies to what it already holds.
 */
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { MemoryStore } from '../../../lib/index.js'
import type { ClientRecord } from '../../../lib/contracts/store.js'
import { buildApp } from '../../helpers/app.js'
import { basic, exchangeCode, issueCode, postForm } from '../../helpers/codes.js'
import { testUsers } from '../../helpers/users.js'

interface Registered {
  client_id: string
  client_secret: string
  registration_access_token: string
  registration_client_uri: string
  [member: string]: unknown
}

const CB1 = 'https://rp.example.com/cb'
const CB2 = 'https://rp.example.com/other'

async function register (app: FastifyInstance): Promise<Registered> {
  const res = await app.inject({
    method: 'POST',
    url: '/register',
    payload: {
      client_name: 'narrowed rp',
      redirect_uris: [CB1, CB2],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid profile email',
    },
  })
  if (res.statusCode !== 201) throw new Error(res.body)
  return res.json<Registered>()
}

async function put (app: FastifyInstance, client: Registered, changes: Record<string, unknown>): Promise<LightMyRequestResponse> {
  const { registration_access_token: token, registration_client_uri: uri, client_id_issued_at: _i, client_secret_expires_at: _e, client_secret: _s, ...rest } = client
  return await app.inject({
    method: 'PUT',
    url: new URL(uri).pathname,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ ...rest, ...changes }),
  })
}

t.test('PUT racing DELETE: the update does not resurrect the deleted client (RFC 7592 §2.2: 401)', async (t) => {
  const late: { app?: FastifyInstance, client?: Registered } = {}
  /** Runs the DELETE after the PUT has authenticated, right before its write. */
  class DeleteBeforeUpdate extends MemoryStore {
    override async updateClientIfExists (record: ClientRecord): Promise<boolean> {
      const { app, client } = late
      if (app !== undefined && client !== undefined) {
        const deleted = await app.inject({ method: 'DELETE', url: new URL(client.registration_client_uri).pathname, headers: { authorization: `Bearer ${client.registration_access_token}` } })
        t.equal(deleted.statusCode, 204, 'the DELETE ran in between')
      }
      return await super.updateClientIfExists(record)
    }
  }
  const store = new DeleteBeforeUpdate()
  t.teardown(() => store.close())
  const app = await buildApp(t, { store, registration: {}, users: testUsers })
  const client = await register(app)
  Object.assign(late, { app, client })
  const res = await put(app, client, { client_name: 'renamed' })
  t.equal(res.statusCode, 401, 'the PUT on the client deleted meanwhile is 401')
  t.equal(res.json().error, 'invalid_token')
  t.equal(await store.getClient(client.client_id), undefined, 'the client stays deleted')
})

t.test('a PUT that narrows a client applies to the codes and tokens it holds (issue 12)', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const app = await buildApp(t, { store, registration: {}, users: testUsers })
  const client = await register(app)
  const auth = { authorization: basic(client.client_id, client.client_secret) }
  const onCb2 = await issueCode(store, { clientId: client.client_id, redirectUri: CB2 })
  const issued = await issueCode(store, { clientId: client.client_id, redirectUri: CB1 })
  const tokens = (await exchangeCode(app, issued, { clientId: client.client_id, secret: client.client_secret, redirectUri: CB1 })).json()
  t.equal(tokens.scope, 'openid profile email')
  t.ok(tokens.refresh_token)

  const narrowed = await put(app, client, { redirect_uris: [CB1], grant_types: ['authorization_code'], scope: 'openid profile' })
  t.equal(narrowed.statusCode, 200)

  const code = await exchangeCode(app, onCb2, { clientId: client.client_id, secret: client.client_secret, redirectUri: CB2 })
  t.equal(code.json().error, 'invalid_grant', 'a code bound to a removed redirect_uri fails')
  const refused = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, auth)
  t.equal(refused.json().error, 'unauthorized_client', 'no refresh once the grant type is removed')
  t.same((await postForm(app, '/introspect', { token: tokens.refresh_token }, auth)).json(), { active: false },
    'and its refresh token is inactive at introspection')

  t.equal((await put(app, client, { redirect_uris: [CB1], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile' })).statusCode, 200)
  const refreshed = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, auth)
  t.equal(refreshed.statusCode, 200, 'the refresh token lives again once the grant type is back (nothing was revoked)')
  t.equal(refreshed.json().scope, 'openid profile', 'but carries only the scopes still registered')
  const fresh = await issueCode(store, { clientId: client.client_id, redirectUri: CB1 })
  t.equal((await exchangeCode(app, fresh, { clientId: client.client_id, secret: client.client_secret, redirectUri: CB1 })).json().scope, 'openid profile',
    'a code issued before the update is narrowed the same way')
})
