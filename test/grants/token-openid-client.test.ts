import t from 'tap'
import * as client from 'openid-client'
import { MemoryStore } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'
import { testUsers } from '../helpers/users.js'
import { CONFIDENTIAL, OTHER, PUBLIC_ID, REDIRECT_URI, SERVICE, issueCode, testClients, testScopes } from '../helpers/codes.js'

/** A provider on a loopback socket and openid-client configurations for the test clients. */
async function setup (t: { teardown (fn: () => unknown): void }) {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { app, issuer } = await startServer(t, { store, clients: testClients(), users: testUsers, scopes: testScopes })
  const options = { execute: [client.allowInsecureRequests] }
  const discover = async (clientId: string, auth: client.ClientAuth): Promise<client.Configuration> =>
    await client.discovery(new URL(issuer), clientId, undefined, auth, options)
  return {
    app,
    store,
    issuer,
    web: await discover(CONFIDENTIAL.client_id, client.ClientSecretBasic(CONFIDENTIAL.client_secret)),
    webPost: await discover(CONFIDENTIAL.client_id, client.ClientSecretPost(CONFIDENTIAL.client_secret)),
    other: await discover(OTHER.client_id, client.ClientSecretBasic(OTHER.client_secret)),
    mobile: await discover(PUBLIC_ID, client.None()),
    service: await discover(SERVICE.client_id, client.ClientSecretBasic(SERVICE.client_secret)),
  }
}

/** What a promise rejected with (openid-client errors carry the RFC `error` code). */
async function rejection (promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(() => undefined, (error: unknown) => error)
}

/** The redirect a browser would land on after /authorize (code + RFC 9207 iss). */
function callback (issuer: string, code: string): URL {
  const url = new URL(REDIRECT_URI)
  url.searchParams.set('code', code)
  url.searchParams.set('iss', issuer)
  return url
}

t.test('openid-client: code exchange with id_token validation, userinfo, refresh, introspection, revocation', async (t) => {
  const { store, issuer, web, webPost, other } = await setup(t)
  const issued = await issueCode(store, { nonce: 'nonce-oc' })
  const tokens = await client.authorizationCodeGrant(web, callback(issuer, issued.code), {
    pkceCodeVerifier: issued.verifier,
    expectedNonce: 'nonce-oc',
    idTokenExpected: true,
  })
  const idClaims = tokens.claims()
  t.equal(idClaims?.sub, 'demo')
  t.equal(idClaims?.nonce, 'nonce-oc')
  t.equal(idClaims?.azp, CONFIDENTIAL.client_id)
  t.equal(tokens.token_type, 'bearer', 'openid-client lower-cases it')
  t.ok(tokens.refresh_token)

  const userinfo = await client.fetchUserInfo(web, tokens.access_token, 'demo')
  t.same(userinfo, { sub: 'demo', name: 'Demo User', email: 'demo@example.com', email_verified: true })

  const refreshed = await client.refreshTokenGrant(webPost, tokens.refresh_token ?? '')
  t.not(refreshed.refresh_token, tokens.refresh_token)
  t.equal(refreshed.claims()?.sub, 'demo', 'a new id_token, validated by openid-client')
  const third = await client.refreshTokenGrant(web, refreshed.refresh_token ?? '')
  t.match(await rejection(client.refreshTokenGrant(web, tokens.refresh_token ?? '')), { error: 'invalid_grant' }, 'the old token fails once its successor was used')
  t.match(await rejection(client.refreshTokenGrant(web, third.refresh_token ?? '')), { error: 'invalid_grant' }, 'and its reuse killed the family')

  const wrong = await issueCode(store)
  t.match(
    await rejection(client.authorizationCodeGrant(web, callback(issuer, wrong.code), { pkceCodeVerifier: 'w'.repeat(43) })),
    { error: 'invalid_grant' },
    'a wrong PKCE verifier is refused'
  )

  const second = await issueCode(store, { accountId: 'alice' })
  const aliceTokens = await client.authorizationCodeGrant(web, callback(issuer, second.code), { pkceCodeVerifier: second.verifier, idTokenExpected: true })
  const introspection = await client.tokenIntrospection(web, aliceTokens.access_token)
  t.match(introspection, { active: true, sub: 'alice', client_id: CONFIDENTIAL.client_id, token_type: 'Bearer' })
  t.same(await client.tokenIntrospection(other, aliceTokens.access_token), { active: false }, 'another client sees nothing')
  t.match(await client.tokenIntrospection(web, aliceTokens.refresh_token ?? '', { token_type_hint: 'refresh_token' }), { active: true, token_type: 'refresh_token' })

  await client.tokenRevocation(web, aliceTokens.refresh_token ?? '', { token_type_hint: 'refresh_token' })
  t.same(await client.tokenIntrospection(web, aliceTokens.access_token), { active: false }, 'revoking the refresh token revoked the grant')
  await t.rejects(client.fetchUserInfo(web, aliceTokens.access_token, 'alice'))
})

t.test('openid-client: public client with PKCE, then access-token revocation', async (t) => {
  const { store, issuer, mobile, web } = await setup(t)
  const issued = await issueCode(store, { clientId: PUBLIC_ID })
  const tokens = await client.authorizationCodeGrant(mobile, callback(issuer, issued.code), { pkceCodeVerifier: issued.verifier, idTokenExpected: true })
  t.equal(tokens.claims()?.aud, PUBLIC_ID)
  const refreshed = await client.refreshTokenGrant(mobile, tokens.refresh_token ?? '')
  t.ok(refreshed.access_token)
  await client.tokenRevocation(mobile, refreshed.access_token)
  await t.rejects(client.fetchUserInfo(mobile, refreshed.access_token, 'demo'), 'a revoked access token is refused')
  await client.tokenRevocation(web, 'not-a-token')
  t.pass('revoking an unknown token succeeds')
})

t.test('openid-client: client_credentials', async (t) => {
  const { service, mobile } = await setup(t)
  const tokens = await client.clientCredentialsGrant(service, { scope: 'api.read' })
  t.equal(tokens.scope, 'api.read')
  t.equal(tokens.refresh_token, undefined)
  t.equal(tokens.id_token, undefined)
  t.match(await client.tokenIntrospection(service, tokens.access_token), { active: true, sub: SERVICE.client_id, scope: 'api.read' })
  await client.tokenRevocation(service, tokens.access_token)
  t.same(await client.tokenIntrospection(service, tokens.access_token), { active: false })
  t.match(await rejection(client.clientCredentialsGrant(service, { scope: 'admin' })), { error: 'invalid_scope' })
  t.match(await rejection(client.clientCredentialsGrant(mobile)), { error: 'invalid_client' }, 'public clients cannot use it')
})

t.test('openid-client: refreshTokenGrant twice in parallel gets the same refresh token (grace window, issue 13)', async (t) => {
  const { store, issuer, web, webPost } = await setup(t)
  const issued = await issueCode(store, { nonce: 'nonce-par' })
  const tokens = await client.authorizationCodeGrant(web, callback(issuer, issued.code), { pkceCodeVerifier: issued.verifier, expectedNonce: 'nonce-par' })
  const [one, two] = await Promise.all([
    client.refreshTokenGrant(web, tokens.refresh_token ?? ''),
    client.refreshTokenGrant(webPost, tokens.refresh_token ?? ''),
  ])
  t.ok(one.refresh_token, 'a successor')
  t.equal(two.refresh_token, one.refresh_token, 'the same successor both times')
  t.not(two.access_token, one.access_token, 'with fresh access tokens')
  t.equal(one.claims()?.sub, 'demo', 'and ID tokens openid-client validated')
  t.equal(two.claims()?.sub, 'demo')
  const next = await client.refreshTokenGrant(web, one.refresh_token ?? '')
  t.not(next.refresh_token, one.refresh_token, 'the successor then rotates normally')
})
