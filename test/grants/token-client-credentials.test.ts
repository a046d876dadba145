import t from 'tap'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { ISSUER } from '../helpers/app.js'
import { SERVICE, basic, postForm, tokenApp } from '../helpers/codes.js'

const auth = { authorization: basic(SERVICE.client_id, SERVICE.client_secret) }

t.test('client_credentials: a token for the client itself, no id_token, no refresh token', async (t) => {
  const { app } = await tokenApp(t)
  const res = await postForm(app, '/token', { grant_type: 'client_credentials' }, auth)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(res.headers.pragma, 'no-cache')
  const body = res.json()
  t.same(Object.keys(body).sort(), ['access_token', 'expires_in', 'scope', 'token_type'])
  t.equal(body.scope, 'api.read api.write', 'default: every registered scope except openid/offline_access')
  const jwks = createLocalJWKSet((await app.inject({ url: '/jwks.json' })).json())
  const { payload } = await jwtVerify(body.access_token, jwks, { issuer: ISSUER, audience: ISSUER, typ: 'at+jwt' })
  t.equal(payload.sub, SERVICE.client_id, 'RFC 9068 §2.2: sub is the client')
  t.equal(payload.client_id, SERVICE.client_id)
  t.equal(payload.grant_id, undefined)
  t.equal(payload.auth_time, undefined)
})

t.test('requested scopes: a subset of the registered ones', async (t) => {
  const { app } = await tokenApp(t)
  const narrow = await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'api.read' }, auth)
  t.equal(narrow.statusCode, 200)
  t.equal(narrow.json().scope, 'api.read')

  const unregistered = await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'api.read profile' }, auth)
  t.equal(unregistered.statusCode, 400)
  t.equal(unregistered.json().error, 'invalid_scope')
  t.equal(unregistered.headers['cache-control'], 'no-store')

  const userScopes = await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'openid api.write' }, auth)
  t.equal(userScopes.statusCode, 200)
  t.equal(userScopes.json().scope, 'api.write', 'openid does not apply without a user')
})

t.test('the access token is not good for userinfo (no user, no openid): 403 insufficient_scope', async (t) => {
  const { app } = await tokenApp(t)
  const token = (await postForm(app, '/token', { grant_type: 'client_credentials' }, auth)).json().access_token
  const res = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 403)
  t.equal(res.json().error, 'insufficient_scope')
})

t.test('accessTokenAudience sets aud', async (t) => {
  const { app } = await tokenApp(t, { accessTokenAudience: 'https://api.example.com' })
  const token = (await postForm(app, '/token', { grant_type: 'client_credentials' }, auth)).json().access_token
  const jwks = createLocalJWKSet((await app.inject({ url: '/jwks.json' })).json())
  const { payload } = await jwtVerify(token, jwks, { issuer: ISSUER, audience: 'https://api.example.com' })
  t.equal(payload.aud, 'https://api.example.com')
  const introspection = await postForm(app, '/introspect', { token }, auth)
  t.equal(introspection.json().active, true, 'our own endpoints accept it whatever its audience')
})

t.test('the granted scope is the same whatever was kept from earlier requests (many, and long, scope parameters)', async (t) => {
  const { app } = await tokenApp(t)
  // More distinct parameters than one client keeps, then one too long to keep: each still granted afresh.
  for (let repeat = 1; repeat <= 18; repeat++) {
    const scope = Array.from({ length: repeat }, () => 'api.read').join(' ')
    const res = await postForm(app, '/token', { grant_type: 'client_credentials', scope }, auth)
    t.equal(res.json().scope, 'api.read', `api.read × ${repeat}`)
  }
  const long = Array.from({ length: 60 }, () => 'api.write').join(' ')
  for (let i = 0; i < 2; i++) t.equal((await postForm(app, '/token', { grant_type: 'client_credentials', scope: long }, auth)).json().scope, 'api.write')
  const again = await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'api.read profile' }, auth)
  t.equal(again.json().error, 'invalid_scope', 'an unregistered scope is refused every time (never kept)')
  t.equal((await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'api.read profile' }, auth)).json().error, 'invalid_scope')
})
