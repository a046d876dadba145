import t from 'tap'
import { createHash } from 'node:crypto'
import * as client from 'openid-client'
import { decodeProtectedHeader } from 'jose'
import { generatedKeys, MemoryStore } from '../../lib/index.js'
import { atHash } from '../../lib/tokens/issue.js'
import { startServer } from '../helpers/server.js'
import { buildApp } from '../helpers/app.js'
import { testUsers } from '../helpers/users.js'
import { HttpBrowser } from '../helpers/http-browser.js'
import { basic, issueCode, postForm, REDIRECT_URI } from '../helpers/codes.js'

// One key per algorithm for the whole file (RSA generation is the slow part).
const keys = generatedKeys({ algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] })
const silent = { log: { warn () {}, info () {} } }

t.test('discovery lists exactly the algorithms the key source holds signers for', async (t) => {
  const app = await buildApp(t, { keys })
  const metadata = (await app.inject('/.well-known/openid-configuration')).json()
  t.same(metadata.id_token_signing_alg_values_supported, ['RS256', 'PS256', 'ES256', 'EdDSA'])
  const jwks = (await app.inject('/jwks.json')).json().keys as Array<Record<string, unknown>>
  t.same(jwks.map((key) => [key.kty, key.alg]), [['RSA', 'RS256'], ['RSA', 'PS256'], ['EC', 'ES256'], ['OKP', 'EdDSA']])
  const only = await buildApp(t, { keys: generatedKeys({ algorithms: ['ES256'] }) })
  t.same((await only.inject('/.well-known/openid-configuration')).json().id_token_signing_alg_values_supported, ['ES256'])
})

t.test('accessTokenSigningAlg picks the access tokens\' alg; an alg without a key fails register', async (t) => {
  const app = await buildApp(t, {
    keys,
    accessTokenSigningAlg: 'EdDSA',
    scopes: ['openid', 'api'],
    clients: [{ client_id: 'svc', client_secret: 'svc-secret-0123456789', grant_types: ['client_credentials'], response_types: [], scope: 'api' }],
  })
  const res = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('svc:svc-secret-0123456789').toString('base64')}` },
    payload: 'grant_type=client_credentials',
  })
  t.equal(res.statusCode, 200)
  const token = res.json().access_token as string
  t.equal(decodeProtectedHeader(token).alg, 'EdDSA')
  const introspected = await app.inject({
    method: 'POST',
    url: '/introspect',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('svc:svc-secret-0123456789').toString('base64')}` },
    payload: `token=${token}`,
  })
  t.equal(introspected.json().active, true, 'the provider verifies its EdDSA access token')

  await t.rejects(buildApp(t, { keys: generatedKeys({ algorithms: ['RS256'] }), accessTokenSigningAlg: 'ES256' }), /accessTokenSigningAlg.*no ES256 key/)
})

t.test('at_hash uses the hash of the ID token alg: SHA-256, and SHA-512 for EdDSA (Ed25519)', async (t) => {
  const token = 'an-access-token'
  const half = (algorithm: string, bytes: number): string => createHash(algorithm).update(token).digest().subarray(0, bytes).toString('base64url')
  t.equal(atHash(token, 'RS256'), half('sha256', 16))
  t.equal(atHash(token, 'ES256'), half('sha256', 16))
  t.equal(atHash(token, 'EdDSA'), half('sha512', 32))
})

t.test('openid-client: clients registered with id_token_signed_response_alg ES256 and EdDSA verify their ID tokens against the JWKS', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { issuer } = await startServer(t, { store, keys, users: testUsers, registration: {} })
  for (const alg of ['ES256', 'EdDSA', 'PS256', undefined] as const) {
    const registered = await fetch(`${issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile offline_access',
        ...(alg === undefined ? {} : { id_token_signed_response_alg: alg }),
      }),
    })
    t.equal(registered.status, 201)
    const info = await registered.json() as { client_id: string, client_secret: string, id_token_signed_response_alg?: string }
    t.equal(info.id_token_signed_response_alg, alg, 'echoed in the client information')
    const config = await client.discovery(new URL(issuer), info.client_id, alg === undefined ? {} : { id_token_signed_response_alg: alg },
      client.ClientSecretBasic(info.client_secret), { execute: [client.allowInsecureRequests] })
    const verifier = client.randomPKCECodeVerifier()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile offline_access',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce: 'n-1',
    })
    const back = await new HttpBrowser().authorize(url, { username: 'demo', password: 'demo' })
    const tokens = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedNonce: 'n-1', idTokenExpected: true })
    const header = decodeProtectedHeader(tokens.id_token!)
    t.equal(header.alg, alg ?? 'RS256', `the ID token is signed ${alg ?? 'RS256 (the default)'}`)
    t.equal(tokens.claims()?.at_hash, atHash(tokens.access_token, alg ?? 'RS256'))
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!)
    t.equal(decodeProtectedHeader(refreshed.id_token!).alg, alg ?? 'RS256', 'refresh keeps the client\'s alg (openid-client verified it)')
  }
  const refused = await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [REDIRECT_URI], id_token_signed_response_alg: 'HS256' }),
  })
  t.equal(refused.status, 400)
  t.equal((await refused.json() as { error: string }).error, 'invalid_client_metadata')
})

t.test('a key source that lists a signer without its public key is refused', async (t) => {
  const loaded = await keys.load(silent)
  const broken = { async load () { return { ...loaded, publicKeys: loaded.publicKeys.slice(0, 1) } } }
  await t.rejects(buildApp(t, { keys: broken }), /must be in publicKeys/)
})

t.test('a client whose id_token_signed_response_alg lost its key after a reload gets a clear 400, not a 500 or another alg', async (t) => {
  const full = await keys.load(silent)
  const rsOnly = { signingKey: full.signingKey, signingKeys: [full.signingKey], publicKeys: full.publicKeys.filter((key) => key.alg === 'RS256') }
  let current = full
  const rotating = { async load () { return current } }
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const app = await buildApp(t, {
    keys: rotating,
    store,
    users: testUsers,
    clients: [{ client_id: 'es-app', client_secret: 'es-app-secret-0123456789', redirect_uris: [REDIRECT_URI], id_token_signed_response_alg: 'ES256' }],
  })
  await t.rejects(buildApp(t, { keys: generatedKeys(), clients: [{ client_id: 'x', client_secret: 'x-secret-0123456789abc', redirect_uris: [REDIRECT_URI], id_token_signed_response_alg: 'ES256' }] }),
    /id_token_signed_response_alg/, 'a static client cannot ask for an algorithm without a key')
  current = rsOnly
  await app.oidc.reloadKeys()
  const issued = await issueCode(store, { clientId: 'es-app', scope: 'openid' })
  const res = await postForm(app, '/token', { grant_type: 'authorization_code', code: issued.code, redirect_uri: REDIRECT_URI, code_verifier: issued.verifier }, { authorization: basic('es-app', 'es-app-secret-0123456789') })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { error: 'unauthorized_client', error_description: /no ES256 key/ })
})
