import t from 'tap'
import { MemoryStore } from '../../../lib/index.js'
import { buildApp } from '../../helpers/app.js'
import { runCodeFlow } from '../../helpers/flow.js'
import { testUsers } from '../../helpers/users.js'

// The seed's two registration bodies, exactly as written there.
const seedBodies = {
  'spa-app': { client_name: 'spa-app', redirect_uris: ['http://localhost:3000/callback'], grant_types: ['authorization_code'], response_types: ['code'], scope: 'openid profile email' },
  'mobile-app': { client_name: 'mobile-app', redirect_uris: ['com.myapp://callback'], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], scope: 'openid profile email' },
}

t.test('each seed body registers, completes the code flow, and stops working once deleted', async (t) => {
  const app = await buildApp(t, { store: new MemoryStore(), users: testUsers, registration: {} })
  for (const [name, body] of Object.entries(seedBodies)) {
    const registered = await app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/json' }, payload: body })
    t.equal(registered.statusCode, 201, name)
    const client = registered.json() as { client_id: string, client_secret?: string, registration_access_token: string, registration_client_uri: string }
    const redirectUri = body.redirect_uris[0]!
    const flow = await runCodeFlow(app, { clientId: client.client_id, redirectUri, state: name, nonce: `n-${name}` })
    t.ok(flow.sawConsent, `${name}: a registered client always asks for consent`)
    t.equal(`${flow.location.protocol}//${flow.location.host}${flow.location.pathname}`, redirectUri, `${name}: back at ${redirectUri}`)
    t.equal(flow.location.searchParams.get('state'), name)

    const tokenRequest = () => app.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        grant_type: 'authorization_code',
        code: flow.code!,
        redirect_uri: redirectUri,
        code_verifier: flow.verifier,
        client_id: client.client_id,
        ...(client.client_secret === undefined ? {} : { client_secret: client.client_secret }),
      }).toString(),
    })
    const tokens = await tokenRequest()
    t.equal(tokens.statusCode, 200, `${name}: tokens`)
    const { access_token: accessToken, refresh_token: refreshToken, id_token: idToken } = tokens.json() as Record<string, string | undefined>
    t.ok(idToken)
    t.equal(refreshToken !== undefined, body.grant_types.includes('refresh_token'), `${name}: a refresh token only with that grant`)
    const userinfo = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${accessToken}` } })
    t.equal(userinfo.json().email, 'demo@example.com')

    const removed = await app.inject({ method: 'DELETE', url: new URL(client.registration_client_uri).pathname, headers: { authorization: `Bearer ${client.registration_access_token}` } })
    t.equal(removed.statusCode, 204)
    const after = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${accessToken}` } })
    t.equal(after.statusCode, 401, `${name}: a deleted client's tokens stop working`)
    t.match(after.headers['www-authenticate'], /error="invalid_token"/)
  }
})
