import t from 'tap'
import * as client from 'openid-client'
import Fastify, { type FastifyInstance } from 'fastify'
import { exportJWK, SignJWT, type JWK } from 'jose'
import { MemoryStore, oidcProvider } from '../../lib/index.js'
import { oidcResourceServer } from '../../lib/resource-server/index.js'
import { ProofReplayCache } from '../../lib/resource-server/dpop.js'
import { accessTokenHash, dpopAlgorithms } from '../../lib/tokens/dpop-proof.js'
import { freePort } from '../helpers/server.js'
import { testUsers } from '../helpers/users.js'
import { basic, jwtClaims, postForm } from '../helpers/codes.js'
import { API_A, API_B, RS_SERVICE, testResourceClients, testResourceServers } from '../helpers/resources.js'

const IN_APP_BASE = 'https://public.example/v1'

interface Setup {
  provider: FastifyInstance
  issuer: string
  apiUrl: string
  strictUrl: string
  config: client.Configuration
  markUsedCalls: () => number
  failStore: (fail: boolean) => void
}

/**
 * The provider on a real port, with the plugin in its own app (API_B, behind a "proxy": an
 * explicit `baseUrl`, and the provider's store as the shared replay store); a second Fastify
 * instance with remote JWKS (API_A, in-memory replay cache); and a third that requires DPoP,
 * behind `trustProxy`.
 */
async function setup (t: { teardown (fn: () => unknown): void }): Promise<Setup> {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const store = new MemoryStore()
  t.teardown(() => store.close())
  let calls = 0
  let fail = false
  const provider = Fastify({ logger: false })
  await provider.register(oidcProvider, { issuer, store, cookieSecret: 'x'.repeat(32), users: testUsers, clients: testResourceClients(), resourceServers: testResourceServers() })
  await provider.register(async (scope) => {
    await scope.register(oidcResourceServer, {
      resource: API_B,
      issuer: provider.oidc.issuer,
      keys: provider.oidc,
      dpop: {
        baseUrl: IN_APP_BASE,
        markUsed: async (key, expiresAt) => {
          calls++
          if (fail) throw new Error('store down')
          return await store.markUsed(key, expiresAt)
        },
      },
    })
    scope.get('/calendar', { config: { accessToken: { scopes: ['calendar:read'] } } }, async (request) => ({ dpop: request.accessToken?.dpop }))
  })
  await provider.listen({ port, host: '127.0.0.1' })
  t.teardown(() => provider.close())

  const api = Fastify({ logger: false })
  await api.register(oidcResourceServer, { resource: API_A, issuer, scopes: ['notes:read'] })
  api.get('/notes', { config: { accessToken: { scopes: ['notes:read'] } } }, async (request) => ({ sub: request.accessToken?.claims.sub, dpop: request.accessToken?.dpop }))
  api.post('/notes', { config: { accessToken: true } }, async () => ({ saved: true }))
  const apiPort = await freePort()
  await api.listen({ port: apiPort, host: '127.0.0.1' })
  t.teardown(() => api.close())

  const strict = Fastify({ logger: false, trustProxy: true })
  await strict.register(oidcResourceServer, { resource: API_A, issuer, dpop: { required: true } })
  strict.get('/notes', { config: { accessToken: true } }, async (request) => ({ dpop: request.accessToken?.dpop }))
  const strictPort = await freePort()
  await strict.listen({ port: strictPort, host: '127.0.0.1' })
  t.teardown(() => strict.close())

  const config = await client.discovery(new URL(issuer), RS_SERVICE.client_id, undefined, client.ClientSecretBasic(RS_SERVICE.client_secret), { execute: [client.allowInsecureRequests] })
  return {
    provider,
    issuer,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    strictUrl: `http://127.0.0.1:${strictPort}`,
    config,
    markUsedCalls: () => calls,
    failStore: (value) => { fail = value },
  }
}

/** A hand-made proof of `keyPair`, to break one rule at a time. */
type KeyPair = Awaited<ReturnType<typeof client.randomDPoPKeyPair>>

async function proof (keyPair: KeyPair, claims: { htm: string, htu: string, token?: string, jti?: string }): Promise<string> {
  const jwk: JWK = await exportJWK(keyPair.publicKey)
  return await new SignJWT({
    jti: claims.jti ?? crypto.randomUUID(),
    iat: Math.floor(Date.now() / 1000),
    htm: claims.htm,
    htu: claims.htu,
    ...(claims.token === undefined ? {} : { ath: accessTokenHash(claims.token) }),
  }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(keyPair.privateKey)
}

const call = async (url: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number, challenge: string, body: Record<string, unknown> }> => {
  const response = await fetch(url, { method, headers })
  const text = await response.text()
  return { status: response.status, challenge: response.headers.get('www-authenticate') ?? '', body: text === '' ? {} : JSON.parse(text) }
}

const dpopError = (error: string): RegExp => new RegExp(`^DPoP algs="${dpopAlgorithms.join(' ')}", error="${error}", error_description="[^"\\\\]+", `)

t.test('a DPoP-bound token from openid-client at a second Fastify instance with remote JWKS', async (t) => {
  const s = await setup(t)
  const keyPair = await client.randomDPoPKeyPair('ES256')
  const handle = client.getDPoPHandle(s.config, keyPair)
  const tokens = await client.clientCredentialsGrant(s.config, { scope: 'notes:read', resource: API_A }, { DPoP: handle })
  const token = tokens.access_token
  const jkt = await handle.calculateThumbprint()
  t.equal(tokens.token_type, 'dpop')
  t.same(jwtClaims(token).cnf, { jkt }, 'bound with cnf.jkt')
  const notes = `${s.apiUrl}/notes`

  await t.test('valid proof (openid-client) → 200 with request.accessToken.dpop', async (t) => {
    const response = await client.fetchProtectedResource(s.config, token, new URL(notes), 'GET', undefined, undefined, { DPoP: handle })
    t.equal(response.status, 200)
    t.same(await response.json(), { sub: RS_SERVICE.client_id, dpop: { jkt } })
    const withQuery = await call(`${notes}?page=2`, { authorization: `DPoP ${token}`, dpop: await proof(keyPair, { htm: 'GET', htu: `${notes}?other=1#x`, token }) })
    t.equal(withQuery.status, 200, 'htu is compared without query and fragment')
  })

  await t.test('no credentials: the bare 401 offers Bearer and DPoP', async (t) => {
    const res = await call(notes, {})
    t.equal(res.status, 401)
    t.match(res.challenge, /^Bearer scope="notes:read", resource_metadata="[^"]+", DPoP algs="[^"]*ES256[^"]*", scope="notes:read", resource_metadata="[^"]+"$/)
    t.same(res.body, {})
  })

  await t.test('the DPoP scheme without a proof → 401 invalid_dpop_proof', async (t) => {
    const res = await call(notes, { authorization: `DPoP ${token}` })
    t.equal(res.status, 401)
    t.match(res.challenge, dpopError('invalid_dpop_proof'))
    t.equal(res.body.error, 'invalid_dpop_proof')
  })

  await t.test('the bound token as Bearer → 401 invalid_token with a DPoP challenge (RFC 9449 §7.1)', async (t) => {
    const res = await call(notes, { authorization: `Bearer ${token}`, dpop: await proof(keyPair, { htm: 'GET', htu: notes, token }) })
    t.equal(res.status, 401)
    t.match(res.challenge, dpopError('invalid_token'))
    t.match(res.body, { error: 'invalid_token', error_description: /DPoP-bound/ })
  })

  await t.test('a proof for another URL or method → 401 invalid_dpop_proof', async (t) => {
    const otherUrl = await call(notes, { authorization: `DPoP ${token}`, dpop: await proof(keyPair, { htm: 'GET', htu: `${s.apiUrl}/other`, token }) })
    t.equal(otherUrl.status, 401)
    t.match(otherUrl.challenge, dpopError('invalid_dpop_proof'))
    t.match(otherUrl.body, { error: 'invalid_dpop_proof', error_description: /htu/ })
    const otherMethod = await call(notes, { authorization: `DPoP ${token}`, dpop: await proof(keyPair, { htm: 'GET', htu: notes, token }) }, 'POST')
    t.equal(otherMethod.status, 401)
    t.match(otherMethod.body, { error: 'invalid_dpop_proof', error_description: /htm/ })
    const noAth = await call(notes, { authorization: `DPoP ${token}`, dpop: await proof(keyPair, { htm: 'GET', htu: notes }) })
    t.match(noAth.body, { error: 'invalid_dpop_proof', error_description: /ath/ }, 'a proof without ath')
    const twoProofs = await fetch(notes, { headers: [['authorization', `DPoP ${token}`], ['dpop', await proof(keyPair, { htm: 'GET', htu: notes, token })], ['dpop', await proof(keyPair, { htm: 'GET', htu: notes, token })]] })
    t.equal(twoProofs.status, 401, 'two DPoP headers')
  })

  await t.test('a replayed proof → 401', async (t) => {
    const once = await proof(keyPair, { htm: 'GET', htu: notes, token })
    t.equal((await call(notes, { authorization: `DPoP ${token}`, dpop: once })).status, 200)
    const again = await call(notes, { authorization: `DPoP ${token}`, dpop: once })
    t.equal(again.status, 401)
    t.match(again.body, { error: 'invalid_dpop_proof', error_description: /already used/ })
  })

  await t.test('a proof signed by another key → 401', async (t) => {
    const other = await client.randomDPoPKeyPair('ES256')
    const res = await call(notes, { authorization: `DPoP ${token}`, dpop: await proof(other, { htm: 'GET', htu: notes, token }) })
    t.equal(res.status, 401)
    t.match(res.body, { error: 'invalid_dpop_proof', error_description: /bound to/ })
    const otherHandle = client.getDPoPHandle(s.config, other)
    const viaClient = await client.fetchProtectedResource(s.config, token, new URL(notes), 'GET', undefined, undefined, { DPoP: otherHandle }).then(() => undefined, (error: unknown) => error)
    t.match(viaClient, { code: 'OAUTH_WWW_AUTHENTICATE_CHALLENGE' }, 'openid-client sees the challenge')
  })

  await t.test('an unbound token with the DPoP scheme → 401 invalid_token', async (t) => {
    const plain = (await postForm(s.provider, '/token', { grant_type: 'client_credentials', resource: API_A, scope: 'notes:read' }, { authorization: basic(RS_SERVICE.client_id, RS_SERVICE.client_secret) })).json().access_token as string
    t.equal((await call(notes, { authorization: `Bearer ${plain}` })).status, 200, 'as Bearer it is fine')
    const res = await call(notes, { authorization: `DPoP ${plain}`, dpop: await proof(keyPair, { htm: 'GET', htu: notes, token: plain }) })
    t.equal(res.status, 401)
    t.match(res.challenge, dpopError('invalid_token'))
    t.match(res.body, { error_description: /not DPoP-bound/ })
    const malformed = await call(notes, { authorization: 'DPoP a b' })
    t.equal(malformed.status, 400)
    t.match(malformed.challenge, /^DPoP algs="[^"]+", error="invalid_request"/)
  })
})

t.test('dpop.required behind trustProxy: Bearer refused, metadata says so, forwarded host and proto form htu', async (t) => {
  const s = await setup(t)
  const keyPair = await client.randomDPoPKeyPair('ES256')
  const handle = client.getDPoPHandle(s.config, keyPair)
  const token = (await client.clientCredentialsGrant(s.config, { scope: 'notes:read', resource: API_A }, { DPoP: handle })).access_token
  const plain = (await postForm(s.provider, '/token', { grant_type: 'client_credentials', resource: API_A, scope: 'notes:read' }, { authorization: basic(RS_SERVICE.client_id, RS_SERVICE.client_secret) })).json().access_token as string
  const url = `${s.strictUrl}/notes`

  const bearer = await call(url, { authorization: `Bearer ${plain}` })
  t.equal(bearer.status, 401, 'a Bearer token is refused')
  t.match(bearer.challenge, dpopError('invalid_token'))
  t.match(bearer.body, { error_description: /only DPoP-bound/ })
  const bare = await call(url, {})
  t.match(bare.challenge, /^DPoP algs="[^"]+", resource_metadata="[^"]+"$/, 'only the DPoP scheme is offered')
  // RFC 9449 §7.1: a DPoP-only resource answers in the DPoP scheme even to a Bearer attempt.
  const malformedBearer = await call(url, { authorization: 'Bearer a b' })
  t.equal(malformedBearer.status, 400)
  t.match(malformedBearer.challenge, /^DPoP algs="[^"]+", error="invalid_request", error_description="[^"]+", resource_metadata="[^"]+"$/, 'a malformed Bearer header: the DPoP challenge, not a Bearer one')
  const forgedBearer = await call(url, { authorization: 'Bearer not.a.token' })
  t.equal(forgedBearer.status, 401)
  t.match(forgedBearer.challenge, /^DPoP algs="[^"]+", error="invalid_token", error_description="[^"]+", resource_metadata="[^"]+"$/, 'an invalid Bearer token: the DPoP challenge too')

  const ok = await client.fetchProtectedResource(s.config, token, new URL(url), 'GET', undefined, undefined, { DPoP: handle })
  t.equal(ok.status, 200)
  t.same(await ok.json(), { dpop: { jkt: await handle.calculateThumbprint() } })

  const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'notes.example' }
  const viaProxy = await call(url, { ...forwarded, authorization: `DPoP ${token}`, dpop: await proof(keyPair, { htm: 'GET', htu: 'https://notes.example/notes', token }) })
  t.equal(viaProxy.status, 200, 'htu is the forwarded public URL')
  const internal = await call(url, { ...forwarded, authorization: `DPoP ${token}`, dpop: await proof(keyPair, { htm: 'GET', htu: url, token }) })
  t.equal(internal.status, 401, 'the internal URL is not the one the client addressed')

  const metadata = await (await fetch(`${s.strictUrl}/.well-known/oauth-protected-resource`)).json() as Record<string, unknown>
  t.same(metadata.dpop_signing_alg_values_supported, [...dpopAlgorithms])
  t.equal(metadata.dpop_bound_access_tokens_required, true)
  const relaxed = await (await fetch(`${s.apiUrl}/.well-known/oauth-protected-resource`)).json() as Record<string, unknown>
  t.notOk('dpop_bound_access_tokens_required' in relaxed || 'dpop_signing_alg_values_supported' in relaxed, 'not published when DPoP is optional')
})

t.test('in the provider\'s own app: an explicit baseUrl and a host-supplied shared markUsed', async (t) => {
  const s = await setup(t)
  const keyPair = await client.randomDPoPKeyPair('ES256')
  const handle = client.getDPoPHandle(s.config, keyPair)
  const token = (await client.clientCredentialsGrant(s.config, { scope: 'calendar:read', resource: API_B }, { DPoP: handle })).access_token
  const url = `${s.issuer}/calendar`
  const publicUrl = `${IN_APP_BASE}/calendar`

  const once = await proof(keyPair, { htm: 'GET', htu: publicUrl, token })
  const ok = await call(url, { authorization: `DPoP ${token}`, dpop: once })
  t.equal(ok.status, 200, 'htu is baseUrl + the path')
  t.same(ok.body, { dpop: { jkt: await handle.calculateThumbprint() } })
  t.equal(s.markUsedCalls(), 1, 'the host\'s markUsed recorded the jti')
  t.match((await call(url, { authorization: `DPoP ${token}`, dpop: once })).body, { error: 'invalid_dpop_proof', error_description: /already used/ })
  const local = await call(url, { authorization: `DPoP ${token}`, dpop: await proof(keyPair, { htm: 'GET', htu: url, token }) })
  t.equal(local.status, 401, 'the listening URL is not the public one')

  s.failStore(true)
  const down = await call(url, { authorization: `DPoP ${token}`, dpop: await proof(keyPair, { htm: 'GET', htu: publicUrl, token }) })
  t.equal(down.status, 503, 'a failing replay store is 503, never an accepted proof')
  t.equal(down.body.error, 'temporarily_unavailable')
})

t.test('the in-memory replay cache is bounded and forgets closed windows', async (t) => {
  const cache = new ProofReplayCache(2)
  const later = Math.floor(Date.now() / 1000) + 300
  t.equal(await cache.markUsed('a', later), true)
  t.equal(await cache.markUsed('a', later), false, 'a replay')
  t.equal(await cache.markUsed('b', later), true)
  t.equal(await cache.markUsed('c', later), true)
  t.equal(await cache.markUsed('c', later), false)
  t.equal(await cache.markUsed('a', later), true, 'the oldest left past the bound')
  const past = Math.floor(Date.now() / 1000) - 1
  t.equal(await cache.markUsed('old', past), true)
  t.equal(await cache.markUsed('old', later), true, 'an entry whose window closed is forgotten')
})
