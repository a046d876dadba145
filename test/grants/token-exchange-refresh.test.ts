import t from 'tap'
import * as client from 'openid-client'
import { decodeJwt } from 'jose'
import { MemoryStore, type OidcProviderOptions } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'
import { testUsers } from '../helpers/users.js'
import { CONFIDENTIAL, REDIRECT_URI, issueCode } from '../helpers/codes.js'

/*
 * Issue 28: "no refresh token unless the policy grants one" (RFC 8693 §2.2.1 leaves
 * `refresh_token` to the server). With `refreshToken: true` from the host's policy, an exchange
 * returns a refresh token whose refreshes keep the exchange's shape (audience, act, scope; no ID
 * token), rotate like any other, and end with the user's grant. Driven by openid-client v6.
 */

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
const MCP = 'https://mcp.example.com/'
const CALENDAR = 'https://calendar.example.com/'
const API = { client_id: 'mcp-server', client_secret: 'mcp-server-secret-0123456789' }
const NO_REFRESH = { client_id: 'mcp-no-refresh', client_secret: 'mcp-no-refresh-secret-012345' }

/** The error a grant request was refused with: its RFC code and HTTP status. */
async function refusal (promise: Promise<unknown>): Promise<{ error?: string, status?: number }> {
  return await promise.then(
    () => ({ error: 'none (it succeeded)' }),
    (error: { error?: string, status?: number }) => ({ error: error.error, status: error.status })
  )
}

const store = new MemoryStore()
t.teardown(() => store.close())
let grantRefresh = true
const idp = await startServer(t, {
  store,
  users: testUsers,
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  clients: [
    { ...CONFIDENTIAL, redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile email offline_access calendar:read' },
    { ...API, grant_types: [EXCHANGE, 'refresh_token'], scope: 'calendar:read calendar:write' },
    { ...NO_REFRESH, grant_types: [EXCHANGE], scope: 'calendar:read' },
  ],
  resourceServers: [
    { resource: MCP, scopes: { 'calendar:read': 'Read your calendar' }, clientId: API.client_id },
    { resource: CALENDAR, scopes: { 'calendar:read': 'Read your calendar', 'calendar:write': 'Change your calendar' } },
  ],
  registration: {},
  tokenExchange: { policy: () => ({ refreshToken: grantRefresh }) },
} satisfies Partial<OidcProviderOptions>)

const execute = { execute: [client.allowInsecureRequests] }
const configure = async (id: string, secret: string): Promise<client.Configuration> =>
  await client.discovery(new URL(idp.issuer), id, undefined, client.ClientSecretBasic(secret), execute)
const web = await configure(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret)
const api = await configure(API.client_id, API.client_secret)
const noRefresh = await configure(NO_REFRESH.client_id, NO_REFRESH.client_secret)

/** A user's access token for the MCP server, under a grant of its own. */
async function userToken (): Promise<{ token: string, grantId: string }> {
  const issued = await issueCode(store, { scope: 'openid offline_access calendar:read', resources: [MCP] })
  const callback = new URL(REDIRECT_URI)
  callback.searchParams.set('code', issued.code)
  callback.searchParams.set('iss', idp.issuer)
  const tokens = await client.authorizationCodeGrant(web, callback, { pkceCodeVerifier: issued.verifier, idTokenExpected: true })
  return { token: tokens.access_token, grantId: issued.grantId }
}

const exchangeFor = (subject: string): Record<string, string> => ({ subject_token: subject, subject_token_type: ACCESS_TOKEN, resource: CALENDAR })

t.test('the policy grants a refresh token: its refreshes keep the audience and act, rotate, and give no ID token', async (t) => {
  const user = await userToken()
  const exchanged = await client.genericGrantRequest(api, EXCHANGE, exchangeFor(user.token))
  t.equal(exchanged.issued_token_type, ACCESS_TOKEN)
  t.type(exchanged.refresh_token, 'string', 'a refresh token, as the policy granted')
  const first = decodeJwt(exchanged.access_token)
  t.match(first, { sub: 'demo', aud: CALENDAR, client_id: API.client_id, act: { sub: API.client_id }, scope: 'calendar:read', grant_id: user.grantId })

  const refreshed = await client.refreshTokenGrant(api, exchanged.refresh_token!)
  const claims = decodeJwt(refreshed.access_token)
  t.match(claims, { sub: 'demo', aud: CALENDAR, client_id: API.client_id, act: { sub: API.client_id }, scope: 'calendar:read', grant_id: user.grantId },
    'the refreshed token has the exchange\'s audience, actor and scope')
  t.equal(claims.family_id, first.family_id, 'in the same family as the exchanged token')
  t.equal(refreshed.id_token, undefined, 'no ID token: the exchange issued none')
  t.not(refreshed.refresh_token, exchanged.refresh_token, 'rotated')
  t.match(await refusal(client.refreshTokenGrant(web, refreshed.refresh_token!)), { error: 'invalid_grant', status: 400 }, 'another client cannot use it')

  // RFC 9700 §4.14.2: the rotated-out token presented again ends the family (past the grace window's successor use).
  const again = await client.refreshTokenGrant(api, refreshed.refresh_token!)
  t.match(await refusal(client.refreshTokenGrant(api, exchanged.refresh_token!)), { error: 'invalid_grant', status: 400 }, 'reuse of a rotated-out token is refused')
  t.match(await refusal(client.refreshTokenGrant(api, again.refresh_token!)), { error: 'invalid_grant', status: 400 }, '... and ends the family')
  t.equal((await client.tokenIntrospection(api, exchanged.access_token)).active, false, 'with the access tokens of that family')
})

t.test('revoking the user\'s grant ends an exchanged refresh token', async (t) => {
  const user = await userToken()
  const exchanged = await client.genericGrantRequest(api, EXCHANGE, exchangeFor(user.token))
  await idp.app.oidc.revokeGrant(user.grantId)
  t.match(await refusal(client.refreshTokenGrant(api, exchanged.refresh_token!)), { error: 'invalid_grant', status: 400 })
  t.equal((await client.tokenIntrospection(api, exchanged.access_token)).active, false)
})

t.test('no refresh token where the policy is silent or the client may not refresh', async (t) => {
  const user = await userToken()
  const withoutGrantType = await client.genericGrantRequest(noRefresh, EXCHANGE, exchangeFor(user.token))
  t.equal(withoutGrantType.refresh_token, undefined, 'a client not registered for refresh_token gets none, whatever the policy says')
  t.ok(withoutGrantType.access_token, 'but the exchange itself succeeds')
  grantRefresh = false
  t.teardown(() => { grantRefresh = true })
  const silent = await client.genericGrantRequest(api, EXCHANGE, exchangeFor(user.token))
  t.equal(silent.refresh_token, undefined, 'a policy that does not grant one: none')
  t.equal(decodeJwt(silent.access_token).family_id, decodeJwt(user.token).family_id, 'and the token joins the subject\'s family, as before')
})

t.test('registration: refresh_token goes with token exchange, and still not alone', async (t) => {
  const register = async (grantTypes: string[]): Promise<Response> => await fetch(`${idp.issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_types: grantTypes, scope: 'calendar:read' }),
  })
  const accepted = await register([EXCHANGE, 'refresh_token'])
  t.equal(accepted.status, 201, 'token exchange with refresh_token is registered')
  t.same((await accepted.json() as { grant_types: string[] }).grant_types, [EXCHANGE, 'refresh_token'])
  const alone = await register(['refresh_token'])
  t.equal(alone.status, 400)
  t.match(await alone.json(), { error: 'invalid_client_metadata' }, 'refresh_token alone: no grant could ever issue one')
})

t.test('deleting the exchanging client ends the refresh family its exchange started', async (t) => {
  // The family lives under the user's grant to another client (the subject's), so revoking the
  // deleted client's own grants alone would leave it alive.
  const registered = await fetch(`${idp.issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_types: [EXCHANGE, 'refresh_token'], scope: 'calendar:read', token_endpoint_auth_method: 'client_secret_basic' }),
  })
  t.equal(registered.status, 201)
  const { client_id: clientId, client_secret: secret } = await registered.json() as { client_id: string, client_secret: string }
  const agent = await configure(clientId, secret)
  const user = await userToken()
  const exchanged = await client.genericGrantRequest(agent, EXCHANGE, exchangeFor(user.token))
  t.type(exchanged.refresh_token, 'string', 'the exchange started a family with a refresh token')
  const refreshed = await client.refreshTokenGrant(agent, exchanged.refresh_token!)
  const claims = decodeJwt(refreshed.access_token) as { jti: string, grant_id: string, family_id: string }
  const revoked = async (): Promise<boolean> => await store.isAccessTokenRevoked(claims.jti, claims.grant_id, claims.family_id)
  t.equal(await revoked(), false, 'its access token is alive while the client exists')
  t.equal((await client.tokenIntrospection(agent, refreshed.refresh_token!)).active, true, 'and so is its refresh token')
  const record = await store.getClient(clientId)

  await idp.app.oidc.clients.delete(clientId)
  t.equal(await revoked(), true, 'the deleted client\'s access token is revoked with its family')
  // The deleted client cannot authenticate any more; were its record back (a restored backup),
  // its refresh token must still be dead: the family is gone, not just out of reach.
  await store.saveClient(record!)
  t.match(await refusal(client.refreshTokenGrant(agent, refreshed.refresh_token!)), { error: 'invalid_grant', status: 400 }, 'its refresh token no longer refreshes')
  t.equal((await client.tokenIntrospection(agent, refreshed.refresh_token!)).active, false, 'and introspects inactive')
  t.ok(await store.getGrant(user.grantId), 'the user\'s grant to the subject\'s client stays')
  t.equal((await client.tokenIntrospection(web, user.token)).active, true, 'with the subject token')
})
