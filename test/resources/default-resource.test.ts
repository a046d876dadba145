import t from 'tap'
import Fastify from 'fastify'
import * as client from 'openid-client'
import { oidcProvider, oidcResourceServer } from '../../lib/index.js'
import { freePort } from '../helpers/server.js'
import { testKeys } from '../helpers/keys.js'
import { testUsers } from '../helpers/users.js'
import { runCodeFlow } from '../helpers/flow.js'
import { jwtClaims } from '../helpers/codes.js'

const API = 'https://notes.example.com/'
const REDIRECT_URI = 'https://rp.example.com/cb'
const WEB = { client_id: 'notes-web', client_secret: 'notes-web-secret-0123456789' }
const WORKER = { client_id: 'notes-worker', client_secret: 'notes-worker-secret-0123456789' }

/** A provider with one API as `defaultResource`, the API itself in the same app, and openid-client for the web client. */
async function setup (t: { teardown (fn: () => unknown): void }, includeUserinfoAudience: boolean) {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(oidcProvider, {
    issuer,
    keys: testKeys(),
    cookieSecret: 'x'.repeat(32),
    users: testUsers,
    clients: [
      { ...WEB, redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile email offline_access notes:read' },
      { ...WORKER, grant_types: ['client_credentials'], scope: 'notes:read' },
    ],
    resourceServers: [{ resource: API, scopes: { 'notes:read': 'Read your notes' } }],
    defaultResource: API,
    includeUserinfoAudience,
  })
  await app.register(async (api) => {
    await api.register(oidcResourceServer, { resource: API, issuer, keys: app.oidc, scopes: ['notes:read'] })
    api.get('/notes', { config: { accessToken: { scopes: ['notes:read'] } } }, async (request) => ({ sub: request.accessToken?.claims.sub }))
  })
  await app.listen({ port, host: '127.0.0.1' })
  const options = { execute: [client.allowInsecureRequests] }
  return {
    app,
    issuer,
    web: await client.discovery(new URL(issuer), WEB.client_id, undefined, client.ClientSecretBasic(WEB.client_secret), options),
    worker: await client.discovery(new URL(issuer), WORKER.client_id, undefined, client.ClientSecretBasic(WORKER.client_secret), options),
  }
}

t.test('defaultResource + includeUserinfoAudience: one token for the API and userinfo, with openid-client', async (t) => {
  const { app, issuer, web, worker } = await setup(t, true)
  // No `resource` anywhere: the default is granted at /authorize and used at /token.
  const flow = await runCodeFlow(app, { clientId: WEB.client_id, redirectUri: REDIRECT_URI, scope: 'openid profile notes:read offline_access', nonce: 'n' })
  const tokens = await client.authorizationCodeGrant(web, flow.location, { pkceCodeVerifier: flow.verifier, expectedNonce: 'n', idTokenExpected: true })
  const claims = jwtClaims(tokens.access_token)
  t.same(claims.aud, [API, `${issuer}/userinfo`], 'aud names the API and the userinfo endpoint')
  t.equal(claims.scope, 'notes:read openid profile', 'the API\'s scope and the OpenID scopes userinfo needs')
  t.match(await client.fetchUserInfo(web, tokens.access_token, 'demo'), { sub: 'demo', name: 'Demo User' }, 'userinfo accepts it')
  const notes = await app.inject({ url: '/notes', headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.equal(notes.statusCode, 200, 'and so does the API')
  t.same(notes.json(), { sub: 'demo' })

  const refreshed = await client.refreshTokenGrant(web, tokens.refresh_token ?? '')
  t.same(jwtClaims(refreshed.access_token).aud, [API, `${issuer}/userinfo`], 'a refresh keeps both audiences')

  const machine = await client.clientCredentialsGrant(worker, { scope: 'notes:read' })
  t.equal(jwtClaims(machine.access_token).aud, API, 'client_credentials without resource: the default, alone (no openid, no userinfo)')
})

t.test('defaultResource alone: the token is for the API only, and userinfo refuses it', async (t) => {
  const { app, web } = await setup(t, false)
  const flow = await runCodeFlow(app, { clientId: WEB.client_id, redirectUri: REDIRECT_URI, scope: 'openid profile notes:read', nonce: 'n' })
  const tokens = await client.authorizationCodeGrant(web, flow.location, { pkceCodeVerifier: flow.verifier, expectedNonce: 'n', idTokenExpected: true })
  const claims = jwtClaims(tokens.access_token)
  t.equal(claims.aud, API)
  t.equal(claims.scope, 'notes:read', 'the API\'s scopes only')
  await t.rejects(client.fetchUserInfo(web, tokens.access_token, 'demo'), 'a token for the API alone is not a userinfo token')
})
