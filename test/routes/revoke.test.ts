import t from 'tap'
import type { SecurityEvents } from '../../lib/index.js'
import { CONFIDENTIAL, OTHER, PUBLIC_ID, basic, exchangeCode, issueCode, postForm, tokenApp } from '../helpers/codes.js'

const auth = { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) }

t.test('revoking a refresh token revokes its grant: every token under it dies', async (t) => {
  const { app, store } = await tokenApp(t)
  const events: Array<SecurityEvents['token.revoked']> = []
  app.oidc.on('token.revoked', (event) => events.push(event))
  const issued = await issueCode(store)
  const tokens = (await exchangeCode(app, issued)).json()

  const res = await postForm(app, '/revoke', { token: tokens.refresh_token, token_type_hint: 'refresh_token' }, auth)
  t.equal(res.statusCode, 200)
  t.equal(res.body, '{}', 'RFC 7009 §2.2: 200 with an empty JSON object')
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'no-store')
  t.same(events, [{ clientId: CONFIDENTIAL.client_id, tokenType: 'refresh_token', grantId: issued.grantId }])

  const refresh = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, auth)
  t.equal(refresh.statusCode, 400)
  t.equal(refresh.json().error, 'invalid_grant')
  t.equal((await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokens.access_token}` } })).statusCode, 401)
  t.same((await postForm(app, '/introspect', { token: tokens.access_token }, auth)).json(), { active: false })

  const again = await postForm(app, '/revoke', { token: tokens.refresh_token }, auth)
  t.equal(again.statusCode, 200, 'already revoked: still 200')
  t.equal(events.length, 1, 'and nothing more happens')
})

t.test('revoking an access token denies its jti only', async (t) => {
  const { app, store } = await tokenApp(t)
  const events: Array<SecurityEvents['token.revoked']> = []
  app.oidc.on('token.revoked', (event) => events.push(event))
  const issued = await issueCode(store)
  const tokens = (await exchangeCode(app, issued)).json()
  const res = await postForm(app, '/revoke', { token: tokens.access_token }, auth)
  t.equal(res.statusCode, 200)
  t.same(events, [{ clientId: CONFIDENTIAL.client_id, tokenType: 'access_token', grantId: issued.grantId }])
  const userinfo = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.equal(userinfo.statusCode, 401)
  t.match(userinfo.headers['www-authenticate'], /error="invalid_token"/)
  const refresh = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, auth)
  t.equal(refresh.statusCode, 200, 'the grant lives on')
})

t.test('another client\'s token: 200 and nothing revoked', async (t) => {
  const { app, store } = await tokenApp(t)
  const tokens = (await exchangeCode(app, await issueCode(store))).json()
  const asOther = { authorization: basic(OTHER.client_id, OTHER.client_secret) }
  t.equal((await postForm(app, '/revoke', { token: tokens.access_token }, asOther)).statusCode, 200)
  t.equal((await postForm(app, '/revoke', { token: tokens.refresh_token }, asOther)).statusCode, 200)
  t.equal((await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokens.access_token}` } })).statusCode, 200)
  const refresh = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, auth)
  t.equal(refresh.statusCode, 200)
})

t.test('unknown tokens and unknown hints: 200 (RFC 7009 §2.1, §2.2)', async (t) => {
  const { app } = await tokenApp(t)
  const unknown = await postForm(app, '/revoke', { token: 'never-issued' }, auth)
  t.equal(unknown.statusCode, 200)
  t.equal(unknown.body, '{}')
  const hint = await postForm(app, '/revoke', { token: 'never-issued', token_type_hint: 'id_token' }, auth)
  t.equal(hint.statusCode, 200, 'an unsupported hint is ignored, never unsupported_token_type')
})

t.test('public clients revoke their own tokens by client_id', async (t) => {
  const { app, store } = await tokenApp(t)
  const tokens = (await exchangeCode(app, await issueCode(store, { clientId: PUBLIC_ID }), { clientId: PUBLIC_ID })).json()
  t.equal((await postForm(app, '/revoke', { token: tokens.refresh_token, client_id: PUBLIC_ID })).statusCode, 200)
  const refresh = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: PUBLIC_ID })
  t.equal(refresh.json().error, 'invalid_grant')
})

t.test('client authentication is required; token is required', async (t) => {
  const { app } = await tokenApp(t)
  const noAuth = await postForm(app, '/revoke', { token: 'x' })
  t.equal(noAuth.statusCode, 401)
  t.equal(noAuth.json().error, 'invalid_client')
  t.equal(noAuth.headers['cache-control'], 'no-store')
  const wrong = await postForm(app, '/revoke', { token: 'x' }, { authorization: basic(CONFIDENTIAL.client_id, 'nope') })
  t.equal(wrong.statusCode, 401)
  t.match(wrong.headers['www-authenticate'], /^Basic realm=/)
  const noToken = await postForm(app, '/revoke', {}, auth)
  t.equal(noToken.statusCode, 400)
  t.equal(noToken.json().error, 'invalid_request')
})
