import t, { type Test } from 'tap'
import * as client from 'openid-client'
import { startServer } from '../helpers/server.js'
import { HttpBrowser } from '../helpers/http-browser.js'
import { testUsers } from '../helpers/users.js'

const REDIRECT = 'http://127.0.0.1:9/callback'

async function provider (t: Test) {
  return await startServer(t, {
    users: testUsers,
    clients: [
      { client_id: 'confidential', client_secret: 'confidential-secret-123456', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], client_name: 'Confidential RP' },
      { client_id: 'public', token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT], client_name: 'Public RP' },
    ],
  })
}

async function login (config: client.Configuration, scope: string, browser = new HttpBrowser(), user = { username: 'demo', password: 'demo' }) {
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const openid = scope.split(' ').includes('openid')
  const nonce = openid ? client.randomNonce() : undefined
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT, scope, state, ...(nonce === undefined ? {} : { nonce }), code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  })
  const callback = await browser.authorize(url, user)
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, ...(nonce === undefined ? {} : { expectedNonce: nonce }), idTokenExpected: openid })
  return { tokens, browser, callback }
}

t.test('openid-client: discovery → login → consent → tokens → userinfo (confidential client)', async (t) => {
  const { issuer } = await provider(t)
  const config = await client.discovery(new URL(issuer), 'confidential', undefined, client.ClientSecretBasic('confidential-secret-123456'), { execute: [client.allowInsecureRequests] })
  t.equal(config.serverMetadata().issuer, issuer)
  const { tokens, browser, callback } = await login(config, 'openid profile email')
  t.ok(browser.sawLogin && browser.sawConsent)
  t.equal(callback.searchParams.get('iss'), issuer)
  t.equal(tokens.token_type.toLowerCase(), 'bearer')
  t.ok(tokens.refresh_token, 'a refresh token for a client allowed the refresh_token grant')
  const claims = tokens.claims()!
  t.equal(claims.sub, 'demo')
  t.equal(claims.aud, 'confidential')
  t.equal(claims.azp, 'confidential')
  t.ok(claims.auth_time)
  t.ok(claims.at_hash)
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, 'demo')
  t.same(userinfo, { sub: 'demo', name: 'Demo User', email: 'demo@example.com', email_verified: true })

  // SSO: the same browser gets a code without any page.
  const again = await login(config, 'openid email', browser)
  t.notOk(browser.sawLogin || browser.sawConsent, 'no login and no consent page the second time')
  t.equal(again.tokens.claims()!.auth_time, claims.auth_time, 'auth_time is the original login time')
})

t.test('openid-client: a public client with PKCE, and plain OAuth 2.0 without openid', async (t) => {
  const { issuer } = await provider(t)
  const config = await client.discovery(new URL(issuer), 'public', undefined, client.None(), { execute: [client.allowInsecureRequests] })
  const { tokens } = await login(config, 'openid profile', undefined, { username: 'alice', password: 'wonderland' })
  t.equal(tokens.claims()!.sub, 'alice')
  t.notOk(tokens.refresh_token, 'no refresh token: the public client did not register that grant')
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, 'alice')
  t.same(userinfo, { sub: 'alice', name: 'Alice Liddell' }, 'profile releases name, not email')

  const oauth = await login(config, 'profile', undefined, { username: 'alice', password: 'wonderland' })
  t.notOk(oauth.tokens.id_token, 'no id_token without openid')
  t.equal(oauth.tokens.scope, 'profile')
})
