import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../helpers/app.js'
import { testUsers } from '../helpers/users.js'
import { basic, jwtClaims, postForm } from '../helpers/codes.js'
import { runCodeFlow } from '../helpers/flow.js'
import {
  API_A, API_A_CREDENTIALS, API_B, API_B_CREDENTIALS, RS_CLIENT, RS_REDIRECT, RS_SERVICE,
  testResourceClients, testResourceServers, userTokens,
} from '../helpers/resources.js'
import { normalizeResource, type OidcProviderOptions, type ResourceServer } from '../../lib/index.js'

async function app (t: { teardown (fn: () => unknown): void }, options: Partial<OidcProviderOptions> = {}): Promise<FastifyInstance> {
  return await buildApp(t, { users: testUsers, clients: testResourceClients(), resourceServers: testResourceServers(), ...options })
}

const refresh = async (server: FastifyInstance, token: string, fields: Record<string, string | string[]> = {}) =>
  await postForm(server, '/token', { grant_type: 'refresh_token', refresh_token: token, ...fields }, { authorization: basic(RS_CLIENT.client_id, RS_CLIENT.client_secret) })

t.test('normalizeResource: scheme and host case, default port, empty path, fragments refused', async (t) => {
  t.equal(normalizeResource('HTTPS://API.Example:443'), 'https://api.example/')
  t.equal(normalizeResource('http://api.example:80/v1/../v2'), 'http://api.example/v2')
  t.equal(normalizeResource('https://api.example:8443/x?y=1'), 'https://api.example:8443/x?y=1')
  t.equal(normalizeResource('urn:example:api'), 'urn:example:api')
  for (const bad of ['', 'api.example', '/relative', 'https://api.example/#frag', 'https://api.example/#', 'https://user:pw@api.example/', 'https://api .example/', 'https://', 'x'.repeat(3000)]) {
    t.equal(normalizeResource(bad), undefined, JSON.stringify(bad.slice(0, 40)))
  }
})

t.test('resource at authorize and token: aud is the resource, scopes filtered to what it accepts', async (t) => {
  const server = await app(t)
  const { status, body } = await userTokens(server, { scope: 'openid profile offline_access notes:read calendar:read', resources: ['https://API.example'], tokenResource: 'https://api.example' })
  t.equal(status, 200, JSON.stringify(body))
  const claims = jwtClaims(body.access_token)
  t.equal(claims.aud, API_A)
  t.equal(claims.scope, 'notes:read')
  t.equal(body.scope, 'notes:read')
  t.equal(body.expires_in, 3600)
  t.ok(body.id_token, 'openid was granted: an id_token still comes with it')
  t.equal(jwtClaims(body.id_token!).aud, RS_CLIENT.client_id)
  // RFC 8707 §2: the token is for the API, not for the provider's userinfo.
  const userinfo = await server.inject({ url: '/userinfo', headers: { authorization: `Bearer ${body.access_token}` } })
  t.equal(userinfo.statusCode, 401)
  t.match(userinfo.headers['www-authenticate'], /error="invalid_token"/)
})

t.test('without resource, tokens are as before; the issuer itself is a resource userinfo accepts', async (t) => {
  const server = await app(t)
  const plain = await userTokens(server, { scope: 'openid profile notes:read' })
  t.equal(plain.status, 200)
  t.equal(jwtClaims(plain.body.access_token).aud, 'http://localhost:3000')
  t.equal(jwtClaims(plain.body.access_token).scope, 'openid profile notes:read')
  const self = await userTokens(server, { scope: 'openid profile notes:read', resources: ['http://localhost:3000/', API_A], tokenResource: 'http://LOCALHOST:3000' })
  t.equal(self.status, 200, JSON.stringify(self.body))
  t.equal(jwtClaims(self.body.access_token).aud, 'http://localhost:3000')
  t.equal(jwtClaims(self.body.access_token).scope, 'openid profile', 'a token for the issuer carries the provider\'s own scopes, not the API\'s (issue 26)')
  const userinfo = await server.inject({ url: '/userinfo', headers: { authorization: `Bearer ${self.body.access_token}` } })
  t.equal(userinfo.statusCode, 200)
  t.equal(userinfo.json().sub, 'demo')
})

t.test('one resource at authorize and none at token: the token is for that resource', async (t) => {
  const server = await app(t)
  const { status, body } = await userTokens(server, { scope: 'openid notes:read', resources: [API_B] })
  t.equal(status, 200)
  t.equal(jwtClaims(body.access_token).aud, API_B)
  t.equal(body.expires_in, 120, 'the resource\'s own lifetime')
})

t.test('invalid_target: unknown, malformed, not granted, several at the token endpoint', async (t) => {
  const server = await app(t)
  for (const resource of ['https://unknown.example/', 'not a uri', 'https://api.example/#x']) {
    const flow = await runCodeFlow(server, { clientId: RS_CLIENT.client_id, redirectUri: RS_REDIRECT, scope: 'openid notes:read', state: 's1', resources: [resource] })
    t.equal(flow.code, null, resource)
    t.equal(flow.location.origin + flow.location.pathname, RS_REDIRECT, 'an error redirect to the registered redirect_uri')
    t.equal(flow.location.searchParams.get('error'), 'invalid_target')
    t.equal(flow.location.searchParams.get('state'), 's1')
    t.equal(flow.location.searchParams.get('iss'), 'http://localhost:3000')
  }
  const notGranted = await userTokens(server, { scope: 'openid notes:read', resources: [API_A], tokenResource: API_B })
  t.equal(notGranted.status, 400)
  t.same(notGranted.body.error, 'invalid_target')
  const noneGranted = await userTokens(server, { scope: 'openid notes:read', tokenResource: API_A })
  t.equal(noneGranted.body.error, 'invalid_target', 'a code without resources names none')
  const several = await userTokens(server, { scope: 'openid notes:read', resources: [API_A, API_B], tokenResource: [API_A, API_B] })
  t.equal(several.status, 400)
  t.equal(several.body.error, 'invalid_target')
})

t.test('refresh: narrows to each granted resource, never widens', async (t) => {
  const server = await app(t)
  const first = await userTokens(server, { scope: 'openid offline_access notes:read notes:write calendar:read', resources: [API_A, API_B], tokenResource: API_A })
  t.equal(first.status, 200, JSON.stringify(first.body))
  t.equal(jwtClaims(first.body.access_token).aud, API_A)
  t.equal(jwtClaims(first.body.access_token).scope, 'notes:read notes:write')
  const second = await refresh(server, first.body.refresh_token!, { resource: API_B })
  t.equal(second.statusCode, 200, second.body)
  t.equal(jwtClaims(second.json().access_token).aud, API_B)
  t.equal(jwtClaims(second.json().access_token).scope, 'notes:read calendar:read')
  t.equal(second.json().expires_in, 120)
  // A narrower scope for the resource.
  const third = await refresh(server, second.json().refresh_token, { resource: API_A, scope: 'notes:read' })
  t.equal(third.statusCode, 200)
  t.equal(jwtClaims(third.json().access_token).scope, 'notes:read')
  // Widening: a resource the authorization request did not name.
  const widen = await refresh(server, third.json().refresh_token, { resource: 'http://localhost:3000' })
  t.equal(widen.statusCode, 400)
  t.equal(widen.json().error, 'invalid_target')
  // The refused request did not consume the refresh token... nor does a refresh without resource get an API token.
  const plain = await refresh(server, third.json().refresh_token)
  t.equal(plain.statusCode, 200)
  t.equal(jwtClaims(plain.json().access_token).aud, 'http://localhost:3000', 'two resources granted: no default, the token is as before')
})

t.test('client_credentials with resource', async (t) => {
  const server = await app(t)
  const cc = async (fields: Record<string, string | string[]>) => await postForm(server, '/token', { grant_type: 'client_credentials', ...fields }, { authorization: basic(RS_SERVICE.client_id, RS_SERVICE.client_secret) })
  const res = await cc({ resource: 'https://api.example' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(jwtClaims(res.json().access_token).aud, API_A)
  t.equal(jwtClaims(res.json().access_token).sub, RS_SERVICE.client_id)
  t.equal(res.json().scope, 'notes:read notes:write')
  const scoped = await cc({ resource: API_B, scope: 'notes:read notes:write' })
  t.equal(scoped.json().scope, 'notes:read', 'B does not accept notes:write')
  t.equal(jwtClaims(scoped.json().access_token).exp as number - (jwtClaims(scoped.json().access_token).iat as number), 120)
  t.equal((await cc({ resource: 'https://nope.example/' })).json().error, 'invalid_target')
  t.equal((await cc({ resource: [API_A, API_B] })).json().error, 'invalid_target')
  const none = await cc({})
  t.equal(jwtClaims(none.json().access_token).aud, 'http://localhost:3000')
})

t.test('introspection by resource servers (RFC 7662 §2.1)', async (t) => {
  const server = await app(t)
  const { body } = await userTokens(server, { scope: 'openid notes:read', resources: [API_A] })
  const introspect = async (token: string, credentials: { clientId: string, clientSecret: string }, post = false) =>
    post
      ? await postForm(server, '/introspect', { token, client_id: credentials.clientId, client_secret: credentials.clientSecret })
      : await postForm(server, '/introspect', { token }, { authorization: basic(credentials.clientId, credentials.clientSecret) })
  const asA = await introspect(body.access_token, API_A_CREDENTIALS)
  t.equal(asA.statusCode, 200)
  t.equal(asA.headers['cache-control'], 'no-store')
  const answer = asA.json()
  t.match(answer, { active: true, aud: API_A, scope: 'notes:read', sub: 'demo', client_id: RS_CLIENT.client_id, token_type: 'Bearer', iss: 'http://localhost:3000' })
  t.type(answer.exp, 'number')
  t.type(answer.iat, 'number')
  t.type(answer.jti, 'string')
  t.same((await introspect(body.access_token, API_A_CREDENTIALS, true)).json().active, true, 'client_secret_post too')
  t.same((await introspect(body.access_token, API_B_CREDENTIALS)).json(), { active: false }, 'another resource server')
  t.same((await introspect(body.refresh_token ?? 'x', API_A_CREDENTIALS)).json(), { active: false }, 'never a refresh token')
  t.same((await introspect('garbage', API_A_CREDENTIALS)).json(), { active: false })
  const wrong = await introspect(body.access_token, { clientId: API_A_CREDENTIALS.clientId, clientSecret: 'wrong-secret-0123456789' })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().error, 'invalid_client')
  t.match(wrong.headers['www-authenticate'], /^Basic /)
  const noSecret = await postForm(server, '/introspect', { token: body.access_token, client_id: API_A_CREDENTIALS.clientId })
  t.equal(noSecret.statusCode, 401)
  // Clients keep the old rule: only their own tokens.
  t.same((await postForm(server, '/introspect', { token: body.access_token }, { authorization: basic(RS_SERVICE.client_id, RS_SERVICE.client_secret) })).json(), { active: false })
  t.equal((await postForm(server, '/introspect', { token: body.access_token }, { authorization: basic(RS_CLIENT.client_id, RS_CLIENT.client_secret) })).json().active, true)
  // Revoked: the resource server sees it at once.
  await postForm(server, '/revoke', { token: body.access_token }, { authorization: basic(RS_CLIENT.client_id, RS_CLIENT.client_secret) })
  t.same((await introspect(body.access_token, API_A_CREDENTIALS)).json(), { active: false })
})

t.test('findResourceServer: resources kept in a database', async (t) => {
  const queries: unknown[] = []
  const server = await app(t, {
    resourceServers: [],
    scopes: ['openid', 'profile', 'offline_access', 'notes:read', 'notes:write', 'calendar:read'],
    async findResourceServer (query): Promise<ResourceServer | undefined> {
      queries.push(query)
      if (query.resource === 'https://db-api.example/' || query.introspectionClientId === 'db-api') {
        // A hash from the database, never the plain secret.
        return { resource: 'https://db-api.example', scopes: { 'notes:read': 'Read notes' }, introspection: { clientId: 'db-api', clientSecretHash: '5-3fVkXqpwiR5jS__uGXui3PtuKXnaVc4fk9ffTjUKw' } }
      }
      if (query.resource === 'https://broken.example/') throw new Error('database down')
      if (query.resource === 'https://liar.example/') return { resource: 'https://elsewhere.example/', scopes: {} }
      return undefined
    },
  })
  const { status, body } = await userTokens(server, { scope: 'openid notes:read notes:write', resources: ['https://db-api.example'] })
  t.equal(status, 200)
  t.equal(jwtClaims(body.access_token).aud, 'https://db-api.example/')
  t.equal(jwtClaims(body.access_token).scope, 'notes:read')
  t.ok(queries.some((query) => JSON.stringify(query) === '{"resource":"https://db-api.example/"}'), 'asked with the normalised identifier')
  const asDb = await postForm(server, '/introspect', { token: body.access_token }, { authorization: basic('db-api', 'db-api-introspection-secret') })
  t.equal(asDb.json().active, true)
  const cc = await postForm(server, '/token', { grant_type: 'client_credentials', resource: 'https://broken.example/' }, { authorization: basic(RS_SERVICE.client_id, RS_SERVICE.client_secret) })
  t.equal(cc.statusCode, 503)
  t.equal(cc.json().error, 'temporarily_unavailable')
  const liar = await postForm(server, '/token', { grant_type: 'client_credentials', resource: 'https://liar.example/' }, { authorization: basic(RS_SERVICE.client_id, RS_SERVICE.client_secret) })
  t.equal(liar.json().error, 'invalid_target', 'a record for another identifier is not that resource')
})

t.test('consent page describes a resource\'s scopes in its own words', async (t) => {
  const clients = testResourceClients().map((client) => ({ ...client, first_party: false }))
  const server = await app(t, { clients })
  const res = await server.inject({
    url: `/authorize?${new URLSearchParams({ response_type: 'code', client_id: RS_CLIENT.client_id, redirect_uri: RS_REDIRECT, scope: 'openid notes:read calendar:read', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', resource: API_B })}`,
  })
  t.equal(res.statusCode, 200)
  t.notOk(res.body.includes('See your calendar'), 'not logged in yet: the login page')
  const flow = await runCodeFlow(server, { clientId: RS_CLIENT.client_id, redirectUri: RS_REDIRECT, scope: 'openid notes:read calendar:read', resources: [API_B] })
  t.ok(flow.sawConsent)
  t.ok(flow.code)
})

t.test('resource server options are checked at startup', async (t) => {
  const cases: Array<[Partial<OidcProviderOptions>, RegExp]> = [
    [{ resourceServers: [{ resource: 'https://a.example/#f', scopes: {} }] }, /resourceServers\[0\]\.resource/],
    [{ resourceServers: [{ resource: 'https://a.example', scopes: {} }, { resource: 'HTTPS://A.EXAMPLE/', scopes: {} }] }, /resourceServers\[1\]\.resource.*duplicates/],
    [{ resourceServers: [{ resource: 'http://localhost:3000', scopes: {} }] }, /issuer itself/],
    [{ resourceServers: [{ resource: 'https://a.example', scopes: { 'bad scope': 'x' } }] }, /invalid scope name/],
    [{ resourceServers: [{ resource: 'https://a.example', scopes: {}, introspection: { clientId: 'x' } }] }, /needs clientSecret/],
    [{ resourceServers: [{ resource: 'https://a.example', scopes: {}, introspection: { clientId: 'x', clientSecret: 'short' } }] }, /clientSecret/],
    [{ clients: [{ ...RS_SERVICE, grant_types: ['client_credentials'] }], resourceServers: [{ resource: 'https://a.example', scopes: {}, introspection: { clientId: RS_SERVICE.client_id, clientSecret: 'x'.repeat(20) } }] }, /also the client_id/],
    [{ findResourceServer: 'nope' as never }, /findResourceServer/],
  ]
  for (const [options, message] of cases) {
    await t.rejects(buildApp(t, { ...options }), message)
  }
})

t.test('static resource scopes are supported scopes (discovery lists them)', async (t) => {
  const server = await app(t)
  const scopes = (await server.inject('/.well-known/openid-configuration')).json().scopes_supported as string[]
  t.ok(scopes.includes('notes:write') && scopes.includes('calendar:read') && scopes.includes('openid'))
})

t.test('repeated resource parameters at authorize are all recorded; duplicates once', async (t) => {
  const server = await app(t)
  const { status, body } = await userTokens(server, { scope: 'openid offline_access notes:read', resources: [API_A, 'https://api.example:443', API_B] })
  t.equal(status, 200)
  t.equal(jwtClaims(body.access_token).aud, 'http://localhost:3000', 'two distinct resources: no default')
  const b = await refresh(server, body.refresh_token!, { resource: API_B.toUpperCase().replace('/V1', '/v1') })
  t.equal(b.statusCode, 200, b.body)
  t.equal(jwtClaims(b.json().access_token).aud, API_B)
})

t.test('introspection shows the claims hook\'s extras to the resource server, never over registered claims', async (t) => {
  const server = await app(t, {
    tokenClaims: {
      accessToken: ({ resource }) => ({ tenant: 'acme', api: resource ?? 'none', sub: 'forged' }),
    },
  })
  const { body } = await userTokens(server, { scope: 'openid notes:read', resources: [API_A] })
  const answer = (await postForm(server, '/introspect', { token: body.access_token }, { authorization: basic(API_A_CREDENTIALS.clientId, API_A_CREDENTIALS.clientSecret) })).json()
  t.match(answer, { active: true, aud: API_A, sub: 'demo', tenant: 'acme', api: API_A }, 'the hook saw the resource; its claims are members; sub stays')
  t.notOk('grant_id' in answer || 'family_id' in answer, 'private claims are not exposed')
})
