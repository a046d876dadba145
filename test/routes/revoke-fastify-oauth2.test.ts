import t from 'tap'
import Fastify from 'fastify'
import oauthPlugin, { type OAuth2Namespace, type Token } from '@fastify/oauth2'
import { MemoryStore } from '../../lib/index.js'
import { CONFIDENTIAL, PUBLIC_ID, basic, issueCode, testClients, testScopes } from '../helpers/codes.js'
import { testUsers } from '../helpers/users.js'
import { startServer } from '../helpers/server.js'

/**
 * RFC 7009 §2.2: a successful revocation answers 200. @fastify/oauth2's `revokeToken` (through
 * simple-oauth2, which reads every answer as strict JSON) rejects a 200 whose body is not JSON,
 * so /revoke answers `{}` as application/json: checked with the real library, over real HTTP.
 */

declare module 'fastify' {
  interface FastifyInstance {
    oidcTest: OAuth2Namespace
  }
}

t.test('@fastify/oauth2 revokeToken and revokeAllToken succeed against /revoke', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close?.())
  const redirectUri = 'http://127.0.0.1:9/callback'
  const { app, issuer } = await startServer(t, { store, clients: testClients(redirectUri), users: testUsers, scopes: testScopes })

  const rp = Fastify({ logger: false })
  await rp.register(oauthPlugin, {
    name: 'oidcTest',
    scope: ['openid'],
    credentials: { client: { id: CONFIDENTIAL.client_id, secret: CONFIDENTIAL.client_secret } },
    // The library reads revocation_endpoint from our discovery document.
    discovery: { issuer },
    callbackUri: redirectUri,
  })
  await rp.ready()
  t.teardown(() => rp.close())

  const exchange = async (): Promise<Token & { refresh_token: string }> => {
    const issued = await issueCode(store, { redirectUri, scope: 'openid offline_access' })
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: issued.code, redirect_uri: redirectUri, code_verifier: issued.verifier }),
    })
    const body = await res.json() as { access_token: string, refresh_token: string, expires_in: number }
    // The token object as the library keeps it after its own code exchange.
    return { ...body, token_type: 'Bearer', expires_at: new Date(Date.now() + body.expires_in * 1000) }
  }

  const first = await exchange()
  await rp.oidcTest.revokeToken(first, 'access_token', undefined)
  t.pass('revokeToken(access_token) resolved')
  const userinfo = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${first.access_token}` } })
  t.equal(userinfo.status, 401, 'and the access token is revoked')

  await rp.oidcTest.revokeToken(first, 'refresh_token', undefined)
  t.pass('revokeToken(refresh_token) resolved')
  const refreshed = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: first.refresh_token }),
  })
  t.equal(refreshed.status, 400, 'and the refresh token is revoked')

  await rp.oidcTest.revokeAllToken(await exchange(), undefined)
  t.pass('revokeAllToken resolved (access token, then refresh token)')
  await rp.oidcTest.revokeToken({ ...first, access_token: 'never-issued' }, 'access_token', undefined)
  t.pass('an unknown token also resolves (RFC 7009 §2.2)')
  t.ok(app.oidc, 'the provider ran')
})

t.test('every success answers 200, application/json, {}, no-store', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close?.())
  const { issuer } = await startServer(t, { store, clients: testClients(), users: testUsers, scopes: testScopes })
  const revoke = async (fields: Record<string, string>, auth = true): Promise<Response> => await fetch(`${issuer}/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) } : {}) },
    body: new URLSearchParams(fields),
  })
  const tokens = await (await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) },
    body: new URLSearchParams(await (async () => {
      const issued = await issueCode(store)
      return { grant_type: 'authorization_code', code: issued.code, redirect_uri: 'https://rp.example.com/cb', code_verifier: issued.verifier }
    })()),
  })).json() as { access_token: string, refresh_token: string }
  const cases: Array<[string, Record<string, string>, boolean]> = [
    ['an access token', { token: tokens.access_token, token_type_hint: 'access_token' }, true],
    ['a refresh token', { token: tokens.refresh_token, token_type_hint: 'refresh_token' }, true],
    ['an already revoked token', { token: tokens.refresh_token }, true],
    ['an unknown token', { token: 'never-issued' }, true],
    ['an unknown hint', { token: 'never-issued', token_type_hint: 'id_token' }, true],
    ['a public client', { token: 'never-issued', client_id: PUBLIC_ID }, false],
  ]
  for (const [name, fields, auth] of cases) {
    const res = await revoke(fields, auth)
    t.equal(res.status, 200, `${name}: 200`)
    t.match(res.headers.get('content-type'), /^application\/json/, `${name}: JSON`)
    t.equal(res.headers.get('cache-control'), 'no-store', `${name}: no-store`)
    t.equal(await res.text(), '{}', `${name}: {}`)
  }
})
