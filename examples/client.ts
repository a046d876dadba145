/**
 * A small relying party: `npm run example:client` (with `npm start` running).
 *
 * It registers itself with the example provider (dynamic registration, a public client with
 * PKCE), prints a URL to open in a browser, waits for the redirect back, exchanges the code
 * with openid-client (a certified relying-party library), prints the ID token's claims and the
 * userinfo response, and exits.
 *
 * Environment: ISSUER (default http://localhost:3000), CLIENT_PORT (default 8080).
 */
import { createServer } from 'node:http'
import * as client from 'openid-client'

const issuer = new URL(process.env.ISSUER ?? 'http://localhost:3000')
const port = Number(process.env.CLIENT_PORT ?? 8080)
const redirectUri = `http://127.0.0.1:${port}/callback`
// http is fine on loopback for this demo; a real relying party talks to an https issuer.
const insecure = issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}

const config = await client.dynamicClientRegistration(issuer, {
  client_name: 'Example relying party',
  redirect_uris: [redirectUri],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
  scope: 'openid profile email',
}, client.None(), insecure)

const verifier = client.randomPKCECodeVerifier()
const state = client.randomState()
const nonce = client.randomNonce()
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile email',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
})

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', redirectUri)
  if (url.pathname !== '/callback') {
    response.writeHead(404).end()
    return
  }
  client.authorizationCodeGrant(config, url, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce })
    .then(async (tokens) => {
      const claims = tokens.claims()!
      const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
      console.log('ID token claims:')
      console.log(JSON.stringify(claims, null, 2))
      console.log('UserInfo:')
      console.log(JSON.stringify(userinfo, null, 2))
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`Signed in as ${String(userinfo.name ?? claims.sub)}. The claims are printed in the terminal; you can close this tab.\n`)
    })
    .catch((error: unknown) => {
      console.error('The login failed:', error)
      process.exitCode = 1
      response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('The login failed; see the terminal.\n')
    })
    .finally(() => { server.close() })
})

server.listen(port, '127.0.0.1', () => {
  console.log(`Registered client ${config.clientMetadata().client_id}.`)
  console.log('Open this URL in a browser and sign in as demo / demo:')
  console.log(authorizationUrl.href)
})
