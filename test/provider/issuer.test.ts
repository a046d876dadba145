import t from 'tap'
import Fastify from 'fastify'
import * as client from 'openid-client'
import { oidcProvider } from '../../lib/index.js'
import { freePort } from '../helpers/server.js'
import { testKeys } from '../helpers/keys.js'
import { testUsers } from '../helpers/users.js'
import { runCodeFlow } from '../helpers/flow.js'
import { CONFIDENTIAL, REDIRECT_URI, testClients } from '../helpers/codes.js'

// Issue 26: a trailing slash on the issuer is kept byte for byte (OIDC Discovery 1.0 §4.3 and
// RFC 9207 §2.4 compare it as a string); only the well-known and endpoint URLs drop it.
t.test('a trailing-slash issuer with a path: discovery, iss and ID tokens carry it exactly; openid-client v6 accepts it', async (t) => {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}/oidc/`
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(oidcProvider, { issuer, prefix: '/oidc', keys: testKeys(), cookieSecret: 'x'.repeat(32), users: testUsers, clients: testClients() })
  await app.listen({ port, host: '127.0.0.1' })
  t.equal(app.oidc.issuer, issuer)

  const discovery = (await app.inject('/oidc/.well-known/openid-configuration')).json()
  t.equal(discovery.issuer, issuer, 'discovery `issuer` is the configured string')
  t.equal(discovery.token_endpoint, `http://127.0.0.1:${port}/oidc/token`, 'endpoints drop the slash before appending')
  const inserted = await app.inject('/.well-known/oauth-authorization-server/oidc')
  t.equal(inserted.statusCode, 200, 'RFC 8414 §3.1 path insertion drops only the terminating slash')
  t.equal(inserted.json().issuer, issuer)

  const config = await client.discovery(new URL(issuer), CONFIDENTIAL.client_id, undefined, client.ClientSecretBasic(CONFIDENTIAL.client_secret), { execute: [client.allowInsecureRequests] })
  const flow = await runCodeFlow(app, { prefix: '/oidc', clientId: CONFIDENTIAL.client_id, redirectUri: REDIRECT_URI, nonce: 'n-26', state: 's-26' })
  t.equal(flow.location.searchParams.get('iss'), issuer, 'RFC 9207 `iss` is the configured string')
  const tokens = await client.authorizationCodeGrant(config, flow.location, { pkceCodeVerifier: flow.verifier, expectedNonce: 'n-26', expectedState: 's-26', idTokenExpected: true })
  t.equal(tokens.claims()?.iss, issuer, 'the ID token `iss` too (validated by openid-client)')
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, 'demo')
  t.equal(userinfo.sub, 'demo', 'the access token works at userinfo under the issuer path')
})

t.test('an issuer with a query or a fragment is refused with a sentence', async (t) => {
  for (const issuer of ['https://id.example.com/?tenant=a', 'https://id.example.com/#top']) {
    const app = Fastify({ logger: false })
    await t.rejects(async () => { await app.register(oidcProvider, { issuer, cookieSecret: 'x'.repeat(32) }) }, {
      code: 'FST_OIDC_INVALID_OPTION',
      message: `fastify-oidc-provider: option "issuer" must not contain a query (?) or a fragment (#): an issuer is a URL without them (OpenID Connect Discovery 1.0 §3, RFC 8414 §2), but "${issuer}" has one`,
    })
    await app.close()
  }
  const app = Fastify({ logger: false })
  await t.rejects(async () => { await app.register(oidcProvider, { issuer: 'id.example.com', cookieSecret: 'x'.repeat(32) }) }, { message: /option "issuer" must be an absolute URL such as https:\/\/id\.example\.com, but "id\.example\.com" is not a URL/ })
  await app.close()
})
