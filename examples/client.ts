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
import { fileURLToPath } from 'node:url'
import * as client from 'openid-client'

export interface ExampleClientOptions {
  issuer: URL
  /** The loopback port the redirect comes back to. */
  port: number
  /** Where the client writes (the terminal by default). */
  print?: (line: string) => void
}

/**
 * The whole relying party: register, print the URL, wait for one redirect back, exchange the
 * code, print the claims and userinfo. Resolves once that redirect has been answered and the
 * listener closed; rejects when the login failed (the browser is told so too).
 */
export async function runExampleClient (options: ExampleClientOptions): Promise<void> {
  const print = options.print ?? ((line: string) => { console.log(line) })
  const { issuer, port } = options
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

  await new Promise<void>((resolve, reject) => {
    let outcome: { error: unknown } | undefined
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
          print('ID token claims:')
          print(JSON.stringify(claims, null, 2))
          print('UserInfo:')
          print(JSON.stringify(userinfo, null, 2))
          // The last response this listener sends: the connection ends with it, so closing is prompt.
          response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' })
            .end(`Signed in as ${String(userinfo.name ?? claims.sub)}. The claims are printed in the terminal; you can close this tab.\n`)
        })
        .catch((error: unknown) => {
          outcome = { error }
          response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end('The login failed; see the terminal.\n')
        })
        .finally(() => {
          server.close(() => { if (outcome === undefined) resolve(); else reject(outcome.error) })
        })
    })
    server.on('error', reject)
    server.listen(port, '127.0.0.1', () => {
      print(`Registered client ${config.clientMetadata().client_id}.`)
      print('Open this URL in a browser and sign in as demo / demo:')
      print(authorizationUrl.href)
    })
  })
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  runExampleClient({
    issuer: new URL(process.env.ISSUER ?? 'http://localhost:3000'),
    port: Number(process.env.CLIENT_PORT ?? 8080),
  }).catch((error: unknown) => {
    console.error('The login failed:', error)
    process.exitCode = 1
  })
}
