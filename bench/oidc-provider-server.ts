/**
 * BASELINE, not our code: node-oidc-provider 9 (the `oidc-provider` package) configured as its
 * documentation configures it, so the bench can run the same SSO flow against it in the same run
 * and compare what each spends beyond its signatures.
 *
 * - One confidential client (client_secret_basic) with authorization_code + refresh_token.
 * - One RS256 key (RSA 2048, as our default signer), the ID token its one signature per flow
 *   (its access tokens are opaque, stored in its default in-memory adapter).
 * - `findAccount` returning the demo user's claims; `interactions.url` pointing at our one
 *   interaction route, which signs the user in and grants `openid profile email` through its
 *   interaction API (`interactionDetails` → `new Grant()` + `addOIDCScope` → `interactionFinished`),
 *   as its docs and example show. Later authorizations of that browser answer at once (SSO).
 * - `issueRefreshToken`: whenever the client may use the refresh_token grant (its default
 *   also asks for `offline_access`, which needs `prompt=consent` on every request and so no
 *   SSO): the flow then returns an access token, an ID token and a refresh token, as ours does.
 *
 * Answers the parent over IPC like bench/server.ts: `{ ready, port }`, 'cpu', 'close'.
 */
import { createServer } from 'node:http'
import { exportJWK, generateKeyPair } from 'jose'
import Provider from 'oidc-provider'
import { oidcProviderClient } from './lib/register.js'

const claims = { name: 'Demo User', email: 'demo@example.com', email_verified: true, preferred_username: 'demo' }

async function main (): Promise<void> {
  const port = Number(process.env.PORT)
  if (!Number.isInteger(port) || port <= 0) throw new Error('PORT must be set by the parent')
  const issuer = `http://127.0.0.1:${port}`
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true })
  const jwk = { ...await exportJWK(privateKey), alg: 'RS256', use: 'sig', kid: 'bench-rs256' }
  const provider = new Provider(issuer, {
    clients: [{
      client_id: oidcProviderClient.client_id,
      client_secret: oidcProviderClient.client_secret,
      redirect_uris: [oidcProviderClient.redirect_uri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: ['bench-node-oidc-cookie-key-0123456789abcdef'] },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email', 'email_verified'] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub, ...claims }) }),
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  })
  // Its own warnings (http issuer, development keys) are not the bench's business.
  provider.on('server_error', (_ctx, error) => { console.error('node-oidc-provider server_error', error) })
  const callback = provider.callback()
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/interaction/') === true) {
      // The interaction route: sign the demo user in and grant the requested scopes.
      (async () => {
        const { params } = await provider.interactionDetails(req, res)
        const grant = new provider.Grant({ accountId: 'demo', clientId: String(params.client_id) })
        grant.addOIDCScope(String(params.scope))
        const grantId = await grant.save()
        await provider.interactionFinished(req, res, { login: { accountId: 'demo' }, consent: { grantId } }, { mergeWithLastSubmission: false })
      })().catch((error: unknown) => {
        res.statusCode = 500
        res.end(String(error))
      })
      return
    }
    callback(req, res)
  })
  server.listen(port, '127.0.0.1', () => { process.send?.({ ready: true, port }) })
  process.on('message', (message) => {
    if (message === 'close') server.close(() => process.exit(0))
    if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() })
  })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
