import t from 'tap'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as client from 'openid-client'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { startExampleServer } from '../helpers/example-server.js'
import { HttpBrowser } from '../helpers/http-browser.js'
import { pkcePair } from '../helpers/flow.js'

/*
 * Issue 25: on `npm start` (an http loopback issuer) a relying party on http loopback registers a
 * back-channel logout URI and, when it signs out, its logout token arrives. Registration and the
 * outbound fetcher apply one rule (lib/http/outbound-policy.ts), so the URI is accepted exactly
 * because it will be delivered to.
 */

t.test('the example server delivers the logout token to an http loopback receiver when the RP signs out', async (t) => {
  const tokens: string[] = []
  let arrived: () => void = () => {}
  const delivered = new Promise<void>((resolve) => { arrived = resolve })
  const receiver = createServer((req: IncomingMessage, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      tokens.push(new URLSearchParams(body).get('logout_token') ?? '')
      res.writeHead(200, { 'cache-control': 'no-store' }).end()
      arrived()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { receiver.closeAllConnections(); receiver.close(() => resolve()) }))
  const backchannel = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/backchannel`

  const { issuer } = await startExampleServer(t)

  const redirectUri = `${issuer}/callback`
  const registered = await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [redirectUri], post_logout_redirect_uris: [`${issuer}/callback`], backchannel_logout_uri: backchannel, client_name: 'Loopback RP' }),
  })
  t.equal(registered.status, 201, 'the http loopback back-channel URI is accepted on an http loopback issuer')
  const metadata = await registered.json() as { client_id: string, client_secret: string, backchannel_logout_uri: string }
  t.equal(metadata.backchannel_logout_uri, backchannel)

  const config = await client.discovery(new URL(issuer), metadata.client_id, metadata.client_secret, undefined, { execute: [client.allowInsecureRequests] })
  const { verifier, challenge } = pkcePair()
  const browser = new HttpBrowser()
  const callback = await browser.authorize(client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 'st',
  }), { username: 'demo', password: 'demo' })
  const tokenSet = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'st' })
  const sid = tokenSet.claims()?.sid

  const signOut = await browser.send(client.buildEndSessionUrl(config, { id_token_hint: tokenSet.id_token!, post_logout_redirect_uri: `${issuer}/callback` }).href)
  t.equal(signOut.status, 302, 'RP-initiated logout with the hint of the current session ends it at once')

  await delivered
  t.equal(tokens.length, 1, 'one logout token')
  const { payload } = await jwtVerify(tokens[0]!, createRemoteJWKSet(new URL(`${issuer}/jwks.json`)), { issuer, audience: metadata.client_id, typ: 'logout+jwt' })
  t.equal(payload.sid, sid, 'for the session the RP signed out of')
  t.same(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} })
})
