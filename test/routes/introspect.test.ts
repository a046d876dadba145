import t from 'tap'
import { nowSeconds } from '../../lib/tokens/crypto.js'
import { signJwt } from '../../lib/tokens/jwt.js'
import { ISSUER } from '../helpers/app.js'
import { testKeys } from '../helpers/keys.js'
import { CONFIDENTIAL, OTHER, SERVICE, basic, exchangeCode, issueCode, jwtClaims, postForm, tokenApp } from '../helpers/codes.js'

const auth = { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) }
const inactive = { active: false }

t.test('an active access token: RFC 7662 §2.2 members, no-store', async (t) => {
  const { app, store } = await tokenApp(t)
  const issued = await issueCode(store)
  const tokens = (await exchangeCode(app, issued)).json()
  const res = await postForm(app, '/introspect', { token: tokens.access_token }, auth)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'no-store')
  const claims = jwtClaims(tokens.access_token)
  t.same(res.json(), {
    active: true,
    scope: 'openid profile email',
    client_id: CONFIDENTIAL.client_id,
    sub: 'demo',
    token_type: 'Bearer',
    exp: claims.exp,
    iat: claims.iat,
    iss: ISSUER,
    aud: ISSUER,
    jti: claims.jti,
  })
})

t.test('an active refresh token, with or without the hint, by Basic or post', async (t) => {
  const { app, store } = await tokenApp(t)
  const tokens = (await exchangeCode(app, await issueCode(store))).json()
  const expected = {
    active: true, scope: 'openid profile email', client_id: CONFIDENTIAL.client_id, sub: 'demo', token_type: 'refresh_token', iss: ISSUER,
  }
  for (const hint of [undefined, 'refresh_token', 'access_token', 'something_else']) {
    const res = await postForm(app, '/introspect', { token: tokens.refresh_token, ...(hint === undefined ? {} : { token_type_hint: hint }) }, auth)
    t.equal(res.statusCode, 200)
    t.match(res.json(), expected, `hint ${String(hint)}`)
    t.type(res.json().exp, 'number')
  }
  const post = await postForm(app, '/introspect', { token: tokens.access_token, token_type_hint: 'refresh_token', ...CONFIDENTIAL })
  t.equal(post.json().active, true, 'a wrong hint still finds the access token')
  t.equal(post.json().token_type, 'Bearer')
})

t.test('{ active: false } and nothing else for every dead or foreign token', async (t) => {
  const { app, store } = await tokenApp(t)
  const tokens = (await exchangeCode(app, await issueCode(store))).json()
  const asOther = { authorization: basic(OTHER.client_id, OTHER.client_secret) }

  t.same((await postForm(app, '/introspect', { token: tokens.access_token }, asOther)).json(), inactive, 'another client\'s access token')
  t.same((await postForm(app, '/introspect', { token: tokens.refresh_token }, asOther)).json(), inactive, 'another client\'s refresh token')
  t.same((await postForm(app, '/introspect', { token: 'unknown' }, auth)).json(), inactive, 'unknown')
  t.same((await postForm(app, '/introspect', { token: 'a.b.c' }, auth)).json(), inactive, 'malformed JWT')

  const { signingKey } = await testKeys().load({ log: console })
  const claims = jwtClaims(tokens.access_token)
  const expired = await signJwt(signingKey, 'at+jwt', { ...claims, exp: nowSeconds() - 1 })
  t.same((await postForm(app, '/introspect', { token: expired }, auth)).json(), inactive, 'expired')

  // Rotation: the old refresh token is dead.
  const rotated = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, auth)
  t.equal(rotated.statusCode, 200)
  const old = await postForm(app, '/introspect', { token: tokens.refresh_token }, auth)
  t.same(old.json(), inactive, 'a consumed refresh token')
  t.equal(old.headers['cache-control'], 'no-store')

  await postForm(app, '/revoke', { token: tokens.access_token }, auth)
  t.same((await postForm(app, '/introspect', { token: tokens.access_token }, auth)).json(), inactive, 'revoked access token')
  t.equal((await postForm(app, '/introspect', { token: rotated.json().access_token }, auth)).json().active, true, 'its sibling is untouched')

  await postForm(app, '/revoke', { token: rotated.json().refresh_token }, auth)
  t.same((await postForm(app, '/introspect', { token: rotated.json().refresh_token }, auth)).json(), inactive, 'revoked refresh token')
  t.same((await postForm(app, '/introspect', { token: rotated.json().access_token }, auth)).json(), inactive, 'access token of a revoked grant')
})

t.test('client_credentials tokens introspect without a grant', async (t) => {
  const { app } = await tokenApp(t)
  const serviceAuth = { authorization: basic(SERVICE.client_id, SERVICE.client_secret) }
  const token = (await postForm(app, '/token', { grant_type: 'client_credentials' }, serviceAuth)).json().access_token
  const res = await postForm(app, '/introspect', { token }, serviceAuth)
  t.match(res.json(), { active: true, sub: SERVICE.client_id, client_id: SERVICE.client_id, scope: 'api.read api.write' })
})

t.test('client authentication and request errors', async (t) => {
  const { app } = await tokenApp(t)
  const noAuth = await postForm(app, '/introspect', { token: 'x' })
  t.equal(noAuth.statusCode, 401)
  t.equal(noAuth.json().error, 'invalid_client')
  t.equal(noAuth.headers['cache-control'], 'no-store')

  const wrong = await postForm(app, '/introspect', { token: 'x' }, { authorization: basic(CONFIDENTIAL.client_id, 'nope') })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.headers['www-authenticate'], `Basic realm="${ISSUER}"`)

  const noToken = await postForm(app, '/introspect', {}, auth)
  t.equal(noToken.statusCode, 400)
  t.equal(noToken.json().error, 'invalid_request')

  const twice = await postForm(app, '/introspect', { token: ['a', 'b'] }, auth)
  t.equal(twice.statusCode, 400)
  t.equal(twice.json().error, 'invalid_request')
})
