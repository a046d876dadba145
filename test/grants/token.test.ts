import t from 'tap'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { createHash } from 'node:crypto'
import type { SecurityEvents } from '../../lib/index.js'
import { ISSUER } from '../helpers/app.js'
import { nowSeconds } from '../../lib/tokens/crypto.js'
import {
  CONFIDENTIAL, OTHER, PUBLIC_ID, REDIRECT_URI, basic, exchangeCode, issueCode, jwtClaims, postForm, tokenApp,
} from '../helpers/codes.js'

const invalidGrant = { error: 'invalid_grant' }

t.test('confidential client (Basic) exchanges a code: access token, id_token, refresh token, no-store', async (t) => {
  const { app, store } = await tokenApp(t)
  const issued = await issueCode(store, { nonce: 'nonce-123', authTime: 1_700_000_000 })
  const res = await exchangeCode(app, issued)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(res.headers.pragma, 'no-cache')
  const body = res.json()
  t.same(Object.keys(body).sort(), ['access_token', 'expires_in', 'id_token', 'refresh_token', 'scope', 'token_type'])
  t.equal(body.token_type, 'Bearer')
  t.equal(body.expires_in, 3600)
  t.equal(body.scope, 'openid profile email')
  t.match(body.refresh_token, /^[\w-]+~[\w-]+~[\w-]{43}$/, 'grant id, family id, and 256 random bits')

  // The id_token checks out against the published JWKS, as a relying party would do it.
  const jwks = createLocalJWKSet((await app.inject({ url: '/jwks.json' })).json())
  const { payload, protectedHeader } = await jwtVerify(body.id_token, jwks, { issuer: ISSUER, audience: CONFIDENTIAL.client_id, typ: 'JWT' })
  t.equal(protectedHeader.alg, 'RS256')
  t.equal(payload.sub, 'demo')
  t.equal(payload.nonce, 'nonce-123')
  t.equal(payload.azp, CONFIDENTIAL.client_id)
  t.equal(payload.auth_time, 1_700_000_000)
  const digest = createHash('sha256').update(body.access_token).digest()
  t.equal(payload.at_hash, digest.subarray(0, 16).toString('base64url'), 'OIDC Core §3.1.3.6')
  t.equal((payload.exp ?? 0) - (payload.iat ?? 0), 3600)

  // The access token is an RFC 9068 JWT.
  const access = await jwtVerify(body.access_token, jwks, { issuer: ISSUER, audience: ISSUER, typ: 'at+jwt' })
  t.match(access.payload, {
    sub: 'demo', client_id: CONFIDENTIAL.client_id, scope: 'openid profile email', auth_time: 1_700_000_000, grant_id: issued.grantId,
  })
  t.match(access.payload.jti, /^[\w-]{22}$/)
})

t.test('client_secret_post works for a client registered for client_secret_basic', async (t) => {
  const { app, store } = await tokenApp(t)
  const issued = await issueCode(store)
  const res = await postForm(app, '/token', {
    grant_type: 'authorization_code',
    code: issued.code,
    redirect_uri: REDIRECT_URI,
    code_verifier: issued.verifier,
    client_id: CONFIDENTIAL.client_id,
    client_secret: CONFIDENTIAL.client_secret,
  })
  t.equal(res.statusCode, 200)
  t.ok(res.json().access_token)
})

t.test('public client: client_id and PKCE, no secret', async (t) => {
  const { app, store } = await tokenApp(t)
  const issued = await issueCode(store, { clientId: PUBLIC_ID })
  const res = await exchangeCode(app, issued, { clientId: PUBLIC_ID })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(jwtClaims(body.id_token).aud, PUBLIC_ID)
  t.ok(body.refresh_token)
})

t.test('without openid it is plain OAuth 2.0: no id_token', async (t) => {
  const { app, store } = await tokenApp(t)
  const issued = await issueCode(store, { scope: 'profile' })
  const res = await exchangeCode(app, issued)
  t.equal(res.statusCode, 200)
  t.equal(res.json().id_token, undefined)
  t.equal(res.json().scope, 'profile')
})

t.test('no refresh token for a client not registered for the refresh_token grant', async (t) => {
  const { app, store } = await tokenApp(t, {
    clients: [{ ...CONFIDENTIAL, redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code'] }],
  })
  const res = await exchangeCode(app, await issueCode(store))
  t.equal(res.statusCode, 200)
  t.equal(res.json().refresh_token, undefined)
})

t.test('every binding of the code is checked: each failure is invalid_grant, no-store', async (t) => {
  const { app, store } = await tokenApp(t)
  const cases: Array<[string, () => Promise<Awaited<ReturnType<typeof exchangeCode>>>]> = [
    ['wrong code_verifier', async () => {
      const issued = await issueCode(store)
      return await exchangeCode(app, { ...issued, verifier: 'x'.repeat(43) })
    }],
    ['malformed code_verifier (too short)', async () => {
      const issued = await issueCode(store)
      return await exchangeCode(app, { ...issued, verifier: issued.verifier.slice(0, 42) })
    }],
    ['other redirect_uri', async () => exchangeCode(app, await issueCode(store), { redirectUri: 'https://rp.example.com/cb/' })],
    ['code of another client', async () => {
      const issued = await issueCode(store, { clientId: OTHER.client_id })
      return await exchangeCode(app, issued)
    }],
    ['expired code', async () => exchangeCode(app, await issueCode(store, { codeTtl: -1 }))],
    ['unknown code', async () => exchangeCode(app, { code: 'nope', verifier: 'v'.repeat(43), grantId: 'g' })],
    ['grant revoked after the code was issued', async () => {
      const issued = await issueCode(store)
      await app.oidc.revokeGrant(issued.grantId)
      return await exchangeCode(app, issued)
    }],
  ]
  for (const [name, run] of cases) {
    const res = await run()
    t.equal(res.statusCode, 400, name)
    t.match(res.json(), invalidGrant, name)
    t.equal(res.headers['cache-control'], 'no-store', name)
  }
})

t.test('a code presented by another client is burnt: the rightful client can no longer use it', async (t) => {
  const { app, store } = await tokenApp(t)
  const issued = await issueCode(store)
  const stolen = await exchangeCode(app, issued, { clientId: OTHER.client_id, secret: OTHER.client_secret })
  t.equal(stolen.statusCode, 400)
  t.equal(stolen.json().error, 'invalid_grant')
  const after = await exchangeCode(app, issued)
  t.equal(after.statusCode, 400)
  t.equal(after.json().error, 'invalid_grant')
})

t.test('code replay: invalid_grant, and the tokens of the first redemption die (RFC 6749 §4.1.2)', async (t) => {
  const { app, store } = await tokenApp(t)
  const replays: Array<SecurityEvents['code.replayed']> = []
  app.oidc.on('code.replayed', (event) => replays.push(event))
  const issued = await issueCode(store)
  const first = await exchangeCode(app, issued)
  t.equal(first.statusCode, 200)
  const { access_token: accessToken, refresh_token: refreshToken } = first.json()
  t.equal((await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${accessToken}` } })).statusCode, 200)

  const second = await exchangeCode(app, issued)
  t.equal(second.statusCode, 400)
  t.same(Object.keys(second.json()).sort(), ['error', 'error_description'])
  t.equal(second.json().error, 'invalid_grant')
  t.match(replays, [{ clientId: CONFIDENTIAL.client_id, grantId: issued.grantId, familyId: String }])
  t.ok(await store.getGrant(issued.grantId), 'the replay revokes the family, not the grant (the consent stays)')

  const userinfo = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${accessToken}` } })
  t.equal(userinfo.statusCode, 401)
  t.match(userinfo.headers['www-authenticate'], /error="invalid_token"/)
  const refresh = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) })
  t.equal(refresh.statusCode, 400)
  t.equal(refresh.json().error, 'invalid_grant')
  t.notMatch(JSON.stringify(replays), issued.code, 'events never carry the code')
})

t.test('20 concurrent redemptions of one code: exactly one success, and its tokens die', async (t) => {
  const { app, store } = await tokenApp(t)
  const issued = await issueCode(store)
  const results = await Promise.all(Array.from({ length: 20 }, async () => await exchangeCode(app, issued)))
  const winners = results.filter((res) => res.statusCode === 200)
  t.equal(winners.length, 1, 'exactly one success')
  t.ok(results.filter((res) => res.statusCode !== 200).every((res) => res.statusCode === 400 && res.json().error === 'invalid_grant'))
  const accessToken = winners[0]?.json().access_token as string
  const userinfo = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${accessToken}` } })
  t.equal(userinfo.statusCode, 401)
  const introspection = await postForm(app, '/introspect', { token: accessToken }, { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) })
  t.same(introspection.json(), { active: false })
})

t.test('request errors at the token endpoint', async (t) => {
  const { app, store } = await tokenApp(t)
  const auth = { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) }

  const missing = await postForm(app, '/token', { code: 'x' }, auth)
  t.equal(missing.statusCode, 400)
  t.equal(missing.json().error, 'invalid_request')
  t.match(missing.json().error_description, /grant_type/)
  t.equal(missing.headers['cache-control'], 'no-store')

  const unknown = await postForm(app, '/token', { grant_type: 'password', username: 'demo', password: 'demo' }, auth)
  t.equal(unknown.statusCode, 400)
  t.equal(unknown.json().error, 'unsupported_grant_type')
  t.match(unknown.json().error_description, /supported: authorization_code, refresh_token, client_credentials/)
  const reflected = await postForm(app, '/token', { grant_type: '"<x-injected>' }, auth)
  t.equal(reflected.json().error, 'unsupported_grant_type')
  t.notMatch(reflected.body, /x-injected/, 'the request value is not echoed back')

  const issued = await issueCode(store)
  const repeated = await postForm(app, '/token', {
    grant_type: 'authorization_code', code: [issued.code, issued.code], redirect_uri: REDIRECT_URI, code_verifier: issued.verifier,
  }, auth)
  t.equal(repeated.statusCode, 400)
  t.equal(repeated.json().error, 'invalid_request', 'a repeated parameter is refused (RFC 6749 §3.2)')

  const noVerifier = await postForm(app, '/token', { grant_type: 'authorization_code', code: issued.code, redirect_uri: REDIRECT_URI }, auth)
  t.equal(noVerifier.statusCode, 400)
  t.equal(noVerifier.json().error, 'invalid_request')
  t.match(noVerifier.json().error_description, /code_verifier/)
  t.equal((await exchangeCode(app, issued)).statusCode, 200, 'refused requests did not consume the code')

  const json = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/json', ...auth },
    payload: JSON.stringify({ grant_type: 'client_credentials' }),
  })
  t.equal(json.statusCode, 415)
  t.equal(json.json().error, 'invalid_request')

  const empty = await app.inject({ method: 'POST', url: '/token' })
  t.equal(empty.statusCode, 400)
  t.equal(empty.json().error, 'invalid_request')

  const get = await app.inject({ url: '/token' })
  t.equal(get.statusCode, 404, 'the token endpoint is POST only (RFC 6749 §3.2)')
})

t.test('unauthorized_client: a client not registered for the grant', async (t) => {
  const { app } = await tokenApp(t)
  const res = await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) })
  t.equal(res.statusCode, 400)
  t.equal(res.json().error, 'unauthorized_client')
  t.equal(res.headers['cache-control'], 'no-store')
})

t.test('token.issued events name client, user, grant type and grant, never a token', async (t) => {
  const { app, store } = await tokenApp(t)
  const events: Array<SecurityEvents['token.issued']> = []
  app.oidc.on('token.issued', (event) => events.push(event))
  const issued = await issueCode(store)
  const res = await exchangeCode(app, issued)
  t.same(events, [{ clientId: CONFIDENTIAL.client_id, accountId: 'demo', grantType: 'authorization_code', grantId: issued.grantId }])
  t.notMatch(JSON.stringify(events), res.json().access_token)
})

t.test('a refresh family is not capped by its grant\'s first expiry: the live grant is extended (issue 12)', async (t) => {
  const { app, store } = await tokenApp(t)
  const issued = await issueCode(store, { grantTtl: 120 })
  const res = await exchangeCode(app, issued)
  const [grantId = '', familyId = ''] = res.json().refresh_token.split('~')
  const found = await store.findFamilyRefreshToken(grantId, familyId, createHash('sha256').update(res.json().refresh_token).digest('base64url'))
  const grant = await store.getGrant(issued.grantId)
  t.ok(found, 'the refresh token is its family\'s current one')
  t.ok((grant?.expiresAt ?? 0) >= (found?.token.expiresAt ?? Infinity), 'the grant now outlives the refresh token')
  t.equal(grant?.expiresAt, found?.family.expiresAt, 'extended to the family\'s absolute end, once')
  t.ok((found?.token.expiresAt ?? Infinity) <= (found?.family.expiresAt ?? 0), 'the token never outlives its family')

  await app.oidc.revokeGrant(issued.grantId)
  t.equal(await store.extendGrant(issued.grantId, nowSeconds() + 9999), false, 'a revoked grant is not extended')
  const refreshed = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: res.json().refresh_token }, { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) })
  t.equal(refreshed.json().error, 'invalid_grant', 'and its refresh tokens stay dead')
  t.equal(await store.getGrant(issued.grantId), undefined, 'revoked stays revoked')
})
