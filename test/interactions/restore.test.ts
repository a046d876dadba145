import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { MemoryStore, type ResourceServer } from '../../lib/index.js'
import { buildApp } from '../helpers/app.js'
import { testUsers } from '../helpers/users.js'
import { CookieJar, hiddenField, pkcePair } from '../helpers/flow.js'

/*
 * A pending login or consent keeps the request it belongs to, and reads it back through the
 * same parser as /authorize when the user answers: what was removed meanwhile (a client, a
 * resource) is refused then, rather than trusted because it was valid when the page was shown.
 */

const REDIRECT = 'https://rp.example.com/cb'
const DB_API = 'https://db-api.example/'

/** Opens the login page for `query`; returns what the login form posts, and the browser's cookies. */
async function openLogin (app: FastifyInstance, query: URLSearchParams): Promise<{ jar: CookieJar, fields: Record<string, string> }> {
  const jar = new CookieJar()
  const page = await app.inject({ url: `/authorize?${query}` })
  if (page.statusCode !== 200) throw new Error(`no login page: ${page.statusCode} ${page.headers.location ?? page.body.slice(0, 200)}`)
  jar.update(page)
  return { jar, fields: { interaction_id: hiddenField(page.body, 'interaction_id'), csrf_token: hiddenField(page.body, 'csrf_token') } }
}

async function submitLogin (app: FastifyInstance, login: { jar: CookieJar, fields: Record<string, string> }) {
  return await app.inject({
    method: 'POST',
    url: '/authorize',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: login.jar.header() },
    payload: new URLSearchParams({ ...login.fields, username: 'demo', password: 'demo' }).toString(),
  })
}

function authorizeQuery (clientId: string, extra: Record<string, string> = {}): URLSearchParams {
  return new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'openid notes:read',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    state: 'st-restore',
    ...extra,
  })
}

t.test('a resource withdrawn while the login page is open is refused when the login is posted (RFC 8707 §2)', async (t) => {
  let declared = true
  const app = await buildApp(t, {
    store: new MemoryStore(),
    users: testUsers,
    scopes: ['openid', 'notes:read'],
    clients: [{ client_id: 'notes-web', client_secret: 'notes-web-secret-0123456789', redirect_uris: [REDIRECT], scope: 'openid notes:read', first_party: true }],
    resourceServers: [],
    async findResourceServer (query): Promise<ResourceServer | undefined> {
      return declared && query.resource === DB_API ? { resource: DB_API, scopes: { 'notes:read': 'Read notes' } } : undefined
    },
  })
  const kept = await openLogin(app, authorizeQuery('notes-web', { resource: DB_API }))
  const done = await submitLogin(app, kept)
  t.equal(done.statusCode, 303, 'while the resource is declared, the login goes through')
  t.ok(new URL(done.headers.location as string).searchParams.get('code'))

  const login = await openLogin(app, authorizeQuery('notes-web', { resource: DB_API }))
  declared = false
  const refused = await submitLogin(app, login)
  t.equal(refused.statusCode, 400)
  t.notOk(refused.headers.location, 'no code for a resource the provider no longer knows')
  t.match(refused.headers['content-type'], /^text\/html/)
  t.match(refused.body, /invalid_target/)
})

t.test('a client deleted while the login page is open: the login is refused, its request is gone', async (t) => {
  const app = await buildApp(t, { store: new MemoryStore(), users: testUsers, scopes: ['openid', 'notes:read'], registration: {} })
  const registered = await app.inject({
    method: 'POST',
    url: '/register',
    payload: { client_name: 'short-lived', redirect_uris: [REDIRECT], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none', scope: 'openid' },
  })
  t.equal(registered.statusCode, 201)
  const client = registered.json() as { client_id: string, registration_access_token: string, registration_client_uri: string }
  const login = await openLogin(app, authorizeQuery(client.client_id, { scope: 'openid' }))
  const deleted = await app.inject({ method: 'DELETE', url: new URL(client.registration_client_uri).pathname, headers: { authorization: `Bearer ${client.registration_access_token}` } })
  t.equal(deleted.statusCode, 204)
  const refused = await submitLogin(app, login)
  t.equal(refused.statusCode, 400)
  t.notOk(refused.headers.location, 'never a redirect to a client that is gone')
  t.match(refused.body, /no longer registered/)
})
