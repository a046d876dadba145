import t from 'tap'
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http'
import { createRequire } from 'node:module'
import eoc from 'express-openid-connect'
import * as client from 'openid-client'
import v5 from 'openid-client-v5'
import type { StaticClient } from '../../lib/index.js'
import { freePort, startServer } from '../helpers/server.js'
import { HttpBrowser } from '../helpers/http-browser.js'
import { testUsers } from '../helpers/users.js'

/*
 * Relying parties nobody here wrote, on their form_post configurations, against one provider:
 * express-openid-connect on its defaults (response_type=id_token, response_mode=form_post),
 * openid-client v6 and v5 driving form_post code flows (errors included).
 */

const { auth, requiresAuth } = eoc

/** The little of an Express app this test uses (express ships no types, and @types/express is not installed). */
interface ExpressApp extends RequestListener {
  use: (middleware: unknown) => void
  get: (path: string, ...handlers: Array<(request: { oidc: { user?: unknown } }, response: { json: (body: unknown) => void }) => void>) => void
}
const express = createRequire(import.meta.url)('express') as () => ExpressApp
const { Issuer, generators } = v5
const credentials = { username: 'demo', password: 'demo' }

/** A relying party's callback: records each POST it receives (method, query, form body). */
interface Callback { method: string, url: string, body: string }

async function listen (server: Server): Promise<number> {
  const port = await freePort()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return port
}

const received: Callback[] = []
const callbackServer = createServer((request: IncomingMessage, response) => {
  let body = ''
  request.setEncoding('utf8')
  request.on('data', (chunk: string) => { body += chunk })
  request.on('end', () => {
    received.push({ method: request.method ?? '', url: request.url ?? '', body })
    response.writeHead(200, { 'content-type': 'text/plain' }).end('received')
  })
})
const callbackPort = await listen(callbackServer)
const CALLBACK = `http://127.0.0.1:${callbackPort}/cb`

const eocPort = await freePort()
const EOC_BASE = `http://127.0.0.1:${eocPort}`

const clients: StaticClient[] = [
  { client_id: 'v6-app', client_secret: 'v6-app-secret-0123456789', redirect_uris: [CALLBACK] },
  { client_id: 'v5-app', client_secret: 'v5-app-secret-0123456789', redirect_uris: [CALLBACK], first_party: true },
  // express-openid-connect's defaults: an ID token by form_post, no client secret needed.
  { client_id: 'eoc-app', token_endpoint_auth_method: 'none', grant_types: ['implicit'], response_types: ['id_token'], redirect_uris: [`${EOC_BASE}/callback`] },
]
const { issuer } = await startServer(t, { users: testUsers, clients, responseTypes: ['code', 'id_token'] })

t.test('express-openid-connect on its defaults (id_token by form_post) signs in', async (t) => {
  const rp = express()
  rp.use(auth({ issuerBaseURL: issuer, baseURL: EOC_BASE, clientID: 'eoc-app', secret: 'a-long-session-secret-for-the-test-rp', authRequired: false }))
  rp.get('/profile', requiresAuth() as never, (request, response) => { response.json(request.oidc.user) })
  const server = createServer(rp)
  await new Promise<void>((resolve) => server.listen(eocPort, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))

  const browser = new HttpBrowser()
  const end = await browser.signIn(`${EOC_BASE}/profile`, credentials)
  t.ok(browser.sawLogin && browser.sawConsent)
  t.same(end.formPosts, [`${EOC_BASE}/callback`], 'the ID token came back by form_post')
  t.equal(end.status, 200, end.body.slice(0, 200))
  t.equal(end.url, `${EOC_BASE}/profile`)
  t.match(JSON.parse(end.body), { sub: 'demo', name: String, email: String }, 'the claims reached the protected page')
})

t.test('openid-client v6: a form_post code flow, and an error by form_post', async (t) => {
  const config = await client.discovery(new URL(issuer), 'v6-app', {}, client.ClientSecretBasic('v6-app-secret-0123456789'), { execute: [client.allowInsecureRequests] })
  t.ok(config.serverMetadata().response_modes_supported?.includes('form_post'))
  const run = async (decision: 'approve' | 'deny') => {
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: 'openid profile',
      response_mode: 'form_post',
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      // The consent was remembered by the first run: asked again, to be denied.
      ...(decision === 'deny' ? { prompt: 'consent' } : {}),
    })
    received.length = 0
    const end = await new HttpBrowser().signIn(url.href, credentials, decision)
    t.equal(end.body, 'received')
    t.equal(received.length, 1)
    const callback = received[0]!
    t.equal(callback.method, 'POST')
    t.equal(callback.url, '/cb', 'nothing in the query')
    const request = new Request(CALLBACK, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: callback.body })
    return await client.authorizationCodeGrant(config, request, { pkceCodeVerifier: verifier, expectedState: state })
  }
  const tokens = await run('approve')
  t.match(tokens.claims(), { iss: issuer, sub: 'demo', aud: 'v6-app' })
  const refused = await run('deny').then(() => undefined, (error: unknown) => error)
  t.match(refused, { error: 'access_denied' }, 'the error arrives as a POST body and openid-client reads it')
  t.match(new URLSearchParams(received[0]!.body).get('iss'), issuer)
})

t.test('openid-client v5: a form_post code flow', async (t) => {
  const found = await Issuer.discover(issuer)
  const rp = new found.Client({ client_id: 'v5-app', client_secret: 'v5-app-secret-0123456789', redirect_uris: [CALLBACK], response_types: ['code'] })
  const verifier = generators.codeVerifier()
  const state = generators.state()
  const nonce = generators.nonce()
  const url = rp.authorizationUrl({ scope: 'openid email', response_mode: 'form_post', state, nonce, code_challenge: generators.codeChallenge(verifier), code_challenge_method: 'S256' })
  received.length = 0
  const end = await new HttpBrowser().signIn(url, credentials)
  t.equal(end.body, 'received')
  const callback = received[0]!
  t.equal(callback.method, 'POST')
  // v5 reads a POSTed callback from the request (method, url and body), as its Express examples do.
  const params = rp.callbackParams({ method: 'POST', url: callback.url, body: callback.body } as unknown as IncomingMessage)
  const tokens = await rp.callback(CALLBACK, params, { code_verifier: verifier, state, nonce, response_type: 'code' })
  t.match(tokens.claims(), { iss: issuer, sub: 'demo', aud: 'v5-app', nonce, email: String })
})
