import t from 'tap'
import { dpopAlgorithms } from '../../lib/tokens/dpop-proof.js'
import { generateKeyPairSync } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { signJwt } from '../../lib/tokens/jwt.js'
import { localKey } from '../../lib/adapters/keys/local.js'
import { nowSeconds } from '../../lib/tokens/crypto.js'
import { ISSUER } from '../helpers/app.js'
import { testKeys } from '../helpers/keys.js'
import { CONFIDENTIAL, basic, exchangeCode, issueCode, jwtClaims, postForm, tokenApp } from '../helpers/codes.js'

const realm = `Bearer realm="${ISSUER}"`

async function userToken (app: FastifyInstance, store: Parameters<typeof issueCode>[0], scope = 'openid profile email'): Promise<string> {
  const res = await exchangeCode(app, await issueCode(store, { scope }))
  return res.json().access_token as string
}

async function get (app: FastifyInstance, token: string) {
  return await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${token}` } })
}

/** The assertions the helper needs (a subtest's `t` has them). */
type Asserts = Pick<typeof t, 'equal' | 'match'>

function expectInvalidToken (t: Asserts, res: Awaited<ReturnType<typeof get>>, name: string): void {
  t.equal(res.statusCode, 401, name)
  t.equal(res.headers['www-authenticate'], `${realm}, error="invalid_token", error_description="the access token is invalid, expired or revoked"`, name)
  t.equal(res.json().error, 'invalid_token', name)
  t.equal(res.headers['cache-control'], 'no-store', name)
}

t.test('GET and POST return the claims the scopes release, no-store', async (t) => {
  const { app, store } = await tokenApp(t)
  const token = await userToken(app, store)
  const res = await get(app, token)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'no-store')
  t.same(res.json(), { sub: 'demo', name: 'Demo User', email: 'demo@example.com', email_verified: true })

  const post = await app.inject({ method: 'POST', url: '/userinfo', headers: { authorization: `Bearer ${token}` } })
  t.equal(post.statusCode, 200)
  t.same(post.json(), res.json())

  const form = await postForm(app, '/userinfo', { access_token: token })
  t.equal(form.statusCode, 200, 'RFC 6750 §2.2 form body')
  t.same(form.json(), res.json())

  const lower = await app.inject({ url: '/userinfo', headers: { authorization: `bearer ${token}` } })
  t.equal(lower.statusCode, 200, 'the scheme is case-insensitive')
})

t.test('claims follow the scope: openid alone is sub only; email without profile', async (t) => {
  const { app, store } = await tokenApp(t)
  t.same((await get(app, await userToken(app, store, 'openid'))).json(), { sub: 'demo' })
  t.same((await get(app, await userToken(app, store, 'openid email'))).json(), { sub: 'demo', email: 'demo@example.com', email_verified: true })
})

t.test('no token: 401 with bare Bearer and DPoP challenges', async (t) => {
  const { app } = await tokenApp(t)
  const res = await app.inject({ url: '/userinfo' })
  t.equal(res.statusCode, 401)
  // RFC 6750 §3.1: no error code; RFC 9449 §7.1: the DPoP scheme is offered with its algorithms.
  const bare = `${realm}, DPoP algs="${dpopAlgorithms.join(' ')}"`
  t.equal(res.headers['www-authenticate'], bare, 'no error code, both schemes')
  t.equal(res.body, '')
  t.equal(res.headers['cache-control'], 'no-store')
  const basicAuth = await app.inject({ url: '/userinfo', headers: { authorization: 'Basic Zm9vOmJhcg==' } })
  t.equal(basicAuth.statusCode, 401)
  t.equal(basicAuth.headers['www-authenticate'], bare)
})

t.test('forged, expired, revoked and garbage tokens: 401 invalid_token', async (t) => {
  const { app, store } = await tokenApp(t)
  const token = await userToken(app, store)
  const claims = jwtClaims(token)
  const [header = '', payload = '', signature = ''] = token.split('.')
  const { signingKey } = await testKeys().load({ log: console })

  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`
  expectInvalidToken(t, await get(app, none), 'alg none')

  const other = await localKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'RS256')
  expectInvalidToken(t, await get(app, await signJwt(other.signingKey, 'at+jwt', claims)), 'signed by another key')
  const otherWithOurKid = await signJwt({ ...other.signingKey, kid: signingKey.kid }, 'at+jwt', claims)
  expectInvalidToken(t, await get(app, otherWithOurKid), 'another key claiming our kid')

  const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'alice' })).toString('base64url')}.${signature}`
  expectInvalidToken(t, await get(app, tampered), 'payload changed')

  const expired = await signJwt(signingKey, 'at+jwt', { ...claims, iat: nowSeconds() - 120, exp: nowSeconds() - 60 })
  expectInvalidToken(t, await get(app, expired), 'expired')

  const idTyp = await signJwt(signingKey, 'JWT', claims)
  expectInvalidToken(t, await get(app, idTyp), 'an id_token-typed JWT is not an access token')

  const otherIssuer = await signJwt(signingKey, 'at+jwt', { ...claims, iss: 'https://evil.example' })
  expectInvalidToken(t, await get(app, otherIssuer), 'another issuer')

  expectInvalidToken(t, await get(app, 'abc.def.ghi'), 'garbage')
  expectInvalidToken(t, await get(app, 'opaque-value'), 'not a JWT')

  t.equal((await get(app, token)).statusCode, 200, 'the real one still works')
  await postForm(app, '/revoke', { token }, { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) })
  expectInvalidToken(t, await get(app, token), 'revoked')
})

t.test('revoking the user\'s grants through app.oidc kills their access tokens', async (t) => {
  const { app, store } = await tokenApp(t)
  const token = await userToken(app, store)
  t.equal((await get(app, token)).statusCode, 200)
  t.equal(await app.oidc.revokeAccountGrants('demo'), 1)
  expectInvalidToken(t, await get(app, token), 'after revokeAccountGrants')
})

t.test('revokeClientGrants kills the client\'s tokens', async (t) => {
  const { app, store } = await tokenApp(t)
  const token = await userToken(app, store)
  t.equal(await app.oidc.revokeClientGrants(CONFIDENTIAL.client_id), 1)
  expectInvalidToken(t, await get(app, token), 'after revokeClientGrants')
})

t.test('a token without openid: 403 insufficient_scope', async (t) => {
  const { app, store } = await tokenApp(t)
  const res = await get(app, await userToken(app, store, 'profile'))
  t.equal(res.statusCode, 403)
  t.equal(res.headers['www-authenticate'], `${realm}, error="insufficient_scope", error_description="the access token was not granted the openid scope", scope="openid"`)
  t.equal(res.json().error, 'insufficient_scope')
})

t.test('invalid_request: token in two places, in the query, malformed header', async (t) => {
  const { app, store } = await tokenApp(t)
  const token = await userToken(app, store)
  const both = await postForm(app, '/userinfo', { access_token: token }, { authorization: `Bearer ${token}` })
  t.equal(both.statusCode, 400)
  t.equal(both.json().error, 'invalid_request')
  t.match(both.headers['www-authenticate'], /^Bearer realm="[^"]+", error="invalid_request"/)

  const query = await app.inject({ url: `/userinfo?access_token=${token}` })
  t.equal(query.statusCode, 400)
  t.equal(query.json().error, 'invalid_request')

  const malformed = await app.inject({ url: '/userinfo', headers: { authorization: 'Bearer two words' } })
  t.equal(malformed.statusCode, 400)
  t.equal(malformed.json().error, 'invalid_request')

  const twice = await postForm(app, '/userinfo', { access_token: [token, token] })
  t.equal(twice.statusCode, 400)
  t.equal(twice.json().error, 'invalid_request')

  const json = await app.inject({ method: 'POST', url: '/userinfo', headers: { 'content-type': 'application/json' }, payload: { access_token: token } })
  t.equal(json.statusCode, 415)
  t.equal(json.json().error, 'invalid_request')
})

t.test('a deleted user: the token no longer speaks for anyone', async (t) => {
  const { app, store } = await tokenApp(t)
  const res = await exchangeCode(app, await issueCode(store, { accountId: 'ghost' }))
  expectInvalidToken(t, await get(app, res.json().access_token), 'unknown sub')
})
