import t from 'tap'
import * as client from 'openid-client'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'
import type { FastifyInstance } from 'fastify'
import { MemoryStore, type OidcProviderOptions } from '../../lib/index.js'
import { accessTokenHash } from '../../lib/tokens/dpop-proof.js'
import { DpopNonces } from '../../lib/tokens/dpop-nonce.js'
import { startServer } from '../helpers/server.js'
import { testUsers } from '../helpers/users.js'
import { HttpBrowser } from '../helpers/http-browser.js'
import { basic, CONFIDENTIAL, PUBLIC_ID, REDIRECT_URI, SERVICE, jwtClaims, postForm, testClients, testScopes, issueCode } from '../helpers/codes.js'
import { buildApp, ISSUER } from '../helpers/app.js'

interface ProofKey { privateKey: CryptoKey, jwk: JWK, jkt: string }

async function proofKey (alg: 'ES256' | 'EdDSA' = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg === 'EdDSA' ? 'Ed25519' : alg, { extractable: true })
  const jwk = await exportJWK(publicKey)
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) }
}

/** A hand-made proof, to break one rule at a time. */
async function proof (key: ProofKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}, signWith?: CryptoKey | Uint8Array): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return await new SignJWT({ jti: crypto.randomUUID(), iat: now, htm: 'POST', htu: `${ISSUER}/token`, ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk, ...header })
    .sign(signWith ?? key.privateKey)
}

const dpopClients = [
  ...testClients(),
  { client_id: 'bound-app', client_secret: 'bound-app-secret-0123456789', grant_types: ['client_credentials' as const], response_types: [], scope: 'api.read', dpop_bound_access_tokens: true },
]

async function serviceToken (app: FastifyInstance, dpop?: string, clientId = SERVICE.client_id, secret = SERVICE.client_secret) {
  return await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'api.read' }, { authorization: basic(clientId, secret), ...(dpop === undefined ? {} : { dpop }) })
}

async function openidClientSetup (t: { teardown (fn: () => unknown): void }, options: Partial<OidcProviderOptions> = {}) {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { issuer } = await startServer(t, { store, clients: dpopClients, users: testUsers, scopes: testScopes, ...options })
  const discover = async (clientId: string, auth: client.ClientAuth) => await client.discovery(new URL(issuer), clientId, {}, auth, { execute: [client.allowInsecureRequests] })
  return { store, issuer, discover }
}

async function codeFlow (config: client.Configuration, handle: client.DPoPHandle, withJkt: boolean) {
  const verifier = client.randomPKCECodeVerifier()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...(withJkt ? { dpop_jkt: await handle.calculateThumbprint() } : {}),
  })
  const back = await new HttpBrowser().authorize(url, { username: 'demo', password: 'demo' })
  return await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, idTokenExpected: true }, undefined, { DPoP: handle })
}

t.test('openid-client getDPoPHandle: a DPoP-bound code flow (with dpop_jkt), refresh and userinfo', async (t) => {
  const { issuer, discover } = await openidClientSetup(t)
  for (const [clientId, auth] of [[CONFIDENTIAL.client_id, client.ClientSecretBasic(CONFIDENTIAL.client_secret)], [PUBLIC_ID, client.None()]] as const) {
    const config = await discover(clientId, auth)
    const keyPair = await client.randomDPoPKeyPair('ES256')
    const handle = client.getDPoPHandle(config, keyPair)
    const tokens = await codeFlow(config, handle, true)
    t.equal(tokens.token_type, 'dpop', `${clientId}: token_type DPoP`)
    t.same(jwtClaims(tokens.access_token).cnf, { jkt: await handle.calculateThumbprint() }, 'bound with cnf.jkt')
    const info = await client.fetchUserInfo(config, tokens.access_token, 'demo', { DPoP: handle })
    t.equal(info.sub, 'demo', 'userinfo with the DPoP scheme and a proof')

    const plain = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
    t.equal(plain.status, 401, 'the bound token as a Bearer token is refused')
    t.match(plain.headers.get('www-authenticate'), /^DPoP algs="[^"]*ES256[^"]*", error="invalid_token"/)
    const noProof = await fetch(`${issuer}/userinfo`, { headers: { authorization: `DPoP ${tokens.access_token}` } })
    t.equal(noProof.status, 401, 'the DPoP scheme without a proof is refused')
    t.match(noProof.headers.get('www-authenticate'), /error="invalid_dpop_proof"/)
    const otherHandle = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'))
    const other = await client.fetchUserInfo(config, tokens.access_token, 'demo', { DPoP: otherHandle }).then(() => undefined, (error: unknown) => error)
    t.match(other, { code: 'OAUTH_WWW_AUTHENTICATE_CHALLENGE' }, 'another key\'s proof is refused')

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP: handle })
    t.equal(refreshed.token_type, 'dpop', `${clientId}: refresh keeps the binding`)
    if (clientId === PUBLIC_ID) {
      const stolen = await client.refreshTokenGrant(config, refreshed.refresh_token!).then(() => undefined, (error: unknown) => error)
      t.match(stolen, { error: 'invalid_grant' }, 'a public client\'s refresh token is bound to its key: no proof, no refresh')
      const wrongKey = await client.refreshTokenGrant(config, refreshed.refresh_token!, undefined, { DPoP: otherHandle }).then(() => undefined, (error: unknown) => error)
      t.match(wrongKey, { error: 'invalid_grant' }, 'and another key\'s proof does not do either')
      t.ok((await client.refreshTokenGrant(config, refreshed.refresh_token!, undefined, { DPoP: handle })).access_token, 'the failures did not consume it')
    }
  }
})

t.test('dpop_jkt binds the code: redeemed without a proof or with another key it fails', async (t) => {
  const { discover } = await openidClientSetup(t)
  const config = await discover(CONFIDENTIAL.client_id, client.ClientSecretBasic(CONFIDENTIAL.client_secret))
  const handle = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'))
  const other = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'))
  const failed = await codeFlow(config, other, false).then(() => undefined, (error: unknown) => error)
  t.notOk(failed, 'without dpop_jkt any key may be used')
  const verifier = client.randomPKCECodeVerifier()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    dpop_jkt: await handle.calculateThumbprint(),
  })
  const back = await new HttpBrowser().authorize(url, { username: 'demo', password: 'demo' })
  const wrong = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier }, undefined, { DPoP: other }).then(() => undefined, (error: unknown) => error)
  t.match(wrong, { error: 'invalid_grant', error_description: /not the one/ })
})

t.test('server nonces: use_dpop_nonce with a DPoP-Nonce header, which openid-client retries with', async (t) => {
  const { discover } = await openidClientSetup(t, { dpop: { requireNonce: true } })
  const config = await discover(SERVICE.client_id, client.ClientSecretBasic(SERVICE.client_secret))
  const handle = client.getDPoPHandle(config, await client.randomDPoPKeyPair('EdDSA'))
  const tokens = await client.clientCredentialsGrant(config, { scope: 'api.read' }, { DPoP: handle })
  t.equal(tokens.token_type, 'dpop', 'issued after the nonce round trip (EdDSA proof key)')

  const nonces = new DpopNonces('secret', { now: () => 1000 * 120 })
  const issued = nonces.current()
  t.ok(nonces.isValid(issued))
  t.notOk(nonces.isValid(`${issued}x`))
  t.notOk(new DpopNonces('other', { now: () => 1000 * 120 }).isValid(issued), 'another secret')
  t.ok(new DpopNonces('secret', { now: () => 1001 * 120 }).isValid(issued), 'the next slot still accepts it')
  t.notOk(new DpopNonces('secret', { now: () => 1002 * 120 }).isValid(issued), 'then it expires')
  t.notOk(nonces.isValid(undefined))
})

t.test('token endpoint: each broken proof is 400 invalid_dpop_proof, never a 500', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const app = await buildApp(t, { store, clients: dpopClients, users: testUsers, scopes: testScopes })
  const key = await proofKey()
  const good = await proof(key, {})
  const ok = await serviceToken(app, good)
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().token_type, 'DPoP')
  t.same(jwtClaims(ok.json().access_token).cnf, { jkt: key.jkt })
  const now = Math.floor(Date.now() / 1000)
  const hmacKey = new TextEncoder().encode('k'.repeat(32))
  const cases: Array<[string, Promise<string> | string, RegExp]> = [
    ['replayed jti', good, /already used/],
    ['wrong htm', proof(key, { htm: 'GET' }), /htm/],
    ['wrong htu', proof(key, { htu: `${ISSUER}/userinfo` }), /htu/],
    ['old iat', proof(key, { iat: now - 3600 }), /iat/],
    ['iat in the future', proof(key, { iat: now + 3600 }), /iat/],
    ['no jti', proof(key, { jti: undefined }), /jti/],
    ['typ JWT', proof(key, {}, { typ: 'JWT' }), /typ/],
    ['HS256', proof(key, {}, { alg: 'HS256' }, hmacKey), /alg/],
    ['a private jwk', proof(key, {}, { jwk: { ...key.jwk, d: 'secret' } }), /public key/],
    ['no jwk', proof(key, {}, { jwk: undefined }), /no jwk/],
    ['signed by another key', proof(await proofKey(), {}, { jwk: key.jwk }), /signature/],
    ['not a JWT', 'garbage', /not a JWT/],
  ]
  for (const [name, made, description] of cases) {
    const res = await serviceToken(app, await made)
    t.equal(res.statusCode, 400, name)
    t.match(res.json(), { error: 'invalid_dpop_proof', error_description: description }, name)
  }
  t.equal((await serviceToken(app, await proof(key, { htu: `${ISSUER}/token?x=1#f` }))).statusCode, 200, 'htu without query and fragment is compared')
  const twice = await app.inject({ method: 'POST', url: '/token', payload: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(SERVICE.client_id, SERVICE.client_secret), dpop: [await proof(key, {}), await proof(key, {})] } })
  t.match(twice.json(), { error: 'invalid_dpop_proof' }, 'two DPoP headers')

  const forced = await serviceToken(app, undefined, 'bound-app', 'bound-app-secret-0123456789')
  t.equal(forced.statusCode, 400)
  t.match(forced.json(), { error: 'invalid_dpop_proof', error_description: /dpop_bound_access_tokens/ }, 'dpop_bound_access_tokens forces a proof')
  t.equal((await serviceToken(app, await proof(key, {}), 'bound-app', 'bound-app-secret-0123456789')).json().token_type, 'DPoP')

  const introspected = await postForm(app, '/introspect', { token: ok.json().access_token }, { authorization: basic(SERVICE.client_id, SERVICE.client_secret) })
  t.match(introspected.json(), { active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } }, 'introspection shows the binding (RFC 9449 section 6.2)')

  const metadata = (await app.inject('/.well-known/openid-configuration')).json()
  t.ok(metadata.dpop_signing_alg_values_supported.includes('ES256'))
  t.notOk(metadata.dpop_signing_alg_values_supported.some((alg: string) => alg.startsWith('HS')))
})

t.test('userinfo: a bound token needs a fresh proof of its key with ath', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const app = await buildApp(t, { store, clients: dpopClients, users: testUsers, scopes: testScopes })
  const key = await proofKey()
  const issued = await issueCode(store, { scope: 'openid profile' })
  const res = await postForm(app, '/token', { grant_type: 'authorization_code', code: issued.code, redirect_uri: REDIRECT_URI, code_verifier: issued.verifier }, { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret), dpop: await proof(key, {}) })
  t.equal(res.statusCode, 200)
  const token = res.json().access_token as string
  const userinfo = async (dpop?: string, scheme = 'DPoP') => await app.inject({ url: '/userinfo', headers: { authorization: `${scheme} ${token}`, ...(dpop === undefined ? {} : { dpop }) } })
  const url = `${ISSUER}/userinfo`
  const good = await proof(key, { htm: 'GET', htu: url, ath: accessTokenHash(token) })
  t.equal((await userinfo(good)).statusCode, 200)
  const cases: Array<[string, Promise<string> | string]> = [
    ['replayed proof', good],
    ['no ath', proof(key, { htm: 'GET', htu: url })],
    ['wrong ath', proof(key, { htm: 'GET', htu: url, ath: accessTokenHash('other') })],
    ['wrong htm', proof(key, { htm: 'POST', htu: url, ath: accessTokenHash(token) })],
    ['another key', proof(await proofKey(), { htm: 'GET', htu: url, ath: accessTokenHash(token) })],
  ]
  for (const [name, made] of cases) {
    const answer = await userinfo(await made)
    t.equal(answer.statusCode, 401, name)
    t.match(answer.headers['www-authenticate'], /^DPoP algs="[^"]+", error="invalid_dpop_proof", error_description="[^"]+"$/, name)
  }
  const asBearer = await userinfo(undefined, 'Bearer')
  t.equal(asBearer.statusCode, 401)
  t.match(asBearer.headers['www-authenticate'], /error="invalid_token"/)
  const garbage = await app.inject({ url: '/userinfo', headers: { authorization: 'DPoP not.a.token' } })
  t.equal(garbage.statusCode, 401)
  t.match(garbage.headers['www-authenticate'], /^DPoP .*error="invalid_token"/)
  const unbound = await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'api.read' }, { authorization: basic(SERVICE.client_id, SERVICE.client_secret) })
  const unboundAsDpop = await app.inject({ url: '/userinfo', headers: { authorization: `DPoP ${unbound.json().access_token as string}` } })
  t.equal(unboundAsDpop.statusCode, 401, 'an unbound token with the DPoP scheme is refused')
})
