import t from 'tap'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose'
import type { FastifyInstance } from 'fastify'
import type { StaticClient } from '../../lib/index.js'
import { buildApp, ISSUER } from '../helpers/app.js'
import { runCodeFlow, pkcePair } from '../helpers/flow.js'
import { testUsers } from '../helpers/users.js'
import { basic, postForm } from '../helpers/codes.js'
import { selfSignedCertificate } from '../helpers/tls.js'

/*
 * Request objects (OIDC Core §6, RFC 9101), issue 25: `request` by value signed with the
 * client's registered keys, the claims checks, unsigned objects only when the host allows them,
 * the object's parameters winning, require_signed_request_object, PAR carrying them, and
 * `request_not_supported` / `request_uri_not_supported` where the host or the design refuses.
 */

const REDIRECT = 'https://rp.example.com/cb'
const OTHER_REDIRECT = 'https://rp.example.com/other'
const es = await generateKeyPair('ES256', { extractable: true })
const stranger = await generateKeyPair('ES256', { extractable: true })
const esJwk: JWK = { ...await exportJWK(es.publicKey), kid: 'rp-1', use: 'sig' }

const base = {
  client_secret: 'request-object-secret-0123456789',
  redirect_uris: [REDIRECT, OTHER_REDIRECT],
  scope: 'openid profile',
  first_party: true,
  jwks: { keys: [esJwk as Record<string, unknown>] },
} satisfies Partial<StaticClient>
const signer: StaticClient = { ...base, client_id: 'ro-web' }
const pinned: StaticClient = { ...base, client_id: 'ro-pinned', request_object_signing_alg: 'RS256' }
const strict: StaticClient = { ...base, client_id: 'ro-strict', require_signed_request_object: true }

async function sign (claims: JWTPayload, options: { key?: CryptoKey, kid?: string, typ?: string } = {}): Promise<string> {
  return await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: options.kid ?? 'rp-1', typ: options.typ ?? 'oauth-authz-req+jwt' }).sign(options.key ?? es.privateKey)
}

/** The authorization parameters of a code flow for `client`, as an object's claims. */
function authorization (client: StaticClient, extra: JWTPayload = {}): JWTPayload {
  return {
    iss: client.client_id,
    aud: ISSUER,
    client_id: client.client_id,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'openid profile',
    state: 'in-object',
    nonce: `n-${crypto.randomUUID()}`,
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    exp: Math.floor(Date.now() / 1000) + 120,
    ...extra,
  }
}

async function authorize (app: FastifyInstance, params: Record<string, string>): Promise<{ status: number, location?: URL, body: string }> {
  const res = await app.inject({ url: `/authorize?${new URLSearchParams(params)}` })
  const location = res.headers.location === undefined ? undefined : new URL(res.headers.location as string, 'http://provider.test')
  return { status: res.statusCode, ...(location === undefined ? {} : { location }), body: res.body }
}

t.test('a signed request object by value: verified with the client\'s jwks; its parameters win over the outside ones', async (t) => {
  const app = await buildApp(t, { users: testUsers, clients: [signer, pinned] })
  const object = await sign(authorization(signer, { jti: 'jti-1' }))
  const flow = await runCodeFlow(app, {
    clientId: signer.client_id,
    redirectUri: OTHER_REDIRECT, // outside: another registered URI; the object's wins
    scope: 'openid',
    state: 'outside',
    pkce: false,
    extra: { request: object },
  })
  t.equal(flow.location.origin + flow.location.pathname, REDIRECT, 'redirect_uri from the object')
  t.equal(flow.location.searchParams.get('state'), 'in-object', 'state from the object')
  t.ok(flow.code, 'a code')
  t.equal(flow.location.searchParams.get('iss'), ISSUER)

  const replay = await authorize(app, { client_id: signer.client_id, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, request: object })
  t.equal(replay.status, 302)
  t.equal(replay.location?.searchParams.get('error'), 'invalid_request_object', 'a jti is used once')
  t.match(replay.location?.searchParams.get('error_description'), /jti replay/)
  t.equal(replay.location?.searchParams.get('iss'), ISSUER, 'errors carry iss (RFC 9207)')

  const wrongAlg = await authorize(app, { client_id: pinned.client_id, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, request: await sign(authorization(pinned)) })
  t.equal(wrongAlg.location?.searchParams.get('error'), 'invalid_request_object', 'request_object_signing_alg pins the algorithm')
  t.match(wrongAlg.location?.searchParams.get('error_description'), /alg must be one of RS256/)
})

t.test('refused request objects: invalid_request_object to the registered redirect_uri, a page when it is not', async (t) => {
  const app = await buildApp(t, { users: testUsers, clients: [signer] })
  const now = Math.floor(Date.now() / 1000)
  const cases: Array<[string, Promise<string> | string, RegExp]> = [
    ['another key', sign(authorization(signer), { key: stranger.privateKey }), /refused/],
    ['aud another issuer', sign(authorization(signer, { aud: 'https://elsewhere.example' })), /refused \(jwt_claim_validation_failed\)/],
    ['iss another client', sign(authorization(signer, { iss: 'someone' })), /refused/],
    ['no iss', sign({ ...authorization(signer), iss: undefined }), /refused/],
    ['expired', sign(authorization(signer, { exp: now - 120 })), /refused \(jwt_expired\)/],
    ['not yet valid', sign(authorization(signer, { nbf: now + 600 })), /refused/],
    ['iat in the future', sign(authorization(signer, { iat: now + 600 })), /refused|iat/],
    ['client_id differs', sign(authorization(signer, { client_id: 'ro-other' })), /client_id does not match/],
    ['response_type differs', sign(authorization(signer, { response_type: 'token' })), /response_type does not match/],
    ['nested request_uri', sign(authorization(signer, { request_uri: 'urn:x' })), /must not contain request_uri/],
    ['a wrong typ', sign(authorization(signer), { typ: 'dpop+jwt' }), /typ/],
    ['not a JWT', 'not-a-jwt', /not a JWT/],
    ['unsigned, not allowed by the host', new UnsecuredJWT(authorization(signer)).encode(), /unsigned/],
  ]
  for (const [name, pending, description] of cases) {
    const refused = await authorize(app, { client_id: signer.client_id, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, state: 'outside-st', request: await pending })
    t.equal(refused.status, 302, `${name}: redirected`)
    t.equal(refused.location?.searchParams.get('error'), 'invalid_request_object', name)
    t.match(refused.location?.searchParams.get('error_description'), description, `${name}: says why`)
    t.equal(refused.location?.searchParams.get('state'), 'outside-st', `${name}: the outside state`)
  }
  const untrusted = await authorize(app, { client_id: signer.client_id, response_type: 'code', scope: 'openid', redirect_uri: 'https://evil.example/cb', request: await sign(authorization(signer), { key: stranger.privateKey }) })
  t.equal(untrusted.status, 400, 'a refused object with an unregistered outside redirect_uri: an error page')
  t.equal(untrusted.location, undefined, 'never a redirect')
  const noRedirect = await authorize(app, { client_id: signer.client_id, response_type: 'code', request: await sign(authorization(signer), { key: stranger.privateKey }) })
  t.equal(noRedirect.status, 400, 'no redirect_uri anywhere trusted: a page')
  const both = await authorize(app, { client_id: signer.client_id, response_type: 'code', redirect_uri: REDIRECT, request: await sign(authorization(signer)), request_uri: 'https://rp.example.com/request.jwt' })
  t.equal(both.location?.searchParams.get('error'), 'invalid_request', 'request and request_uri together')
})

t.test('unsigned objects when the host allows them; require_signed_request_object; PAR carries objects', async (t) => {
  const app = await buildApp(t, { users: testUsers, clients: [signer, strict], requestObjects: { allowUnsigned: true } })
  const discovery = (await app.inject({ url: '/.well-known/openid-configuration' })).json()
  t.ok(discovery.request_object_signing_alg_values_supported.includes('none'), 'discovery lists none when allowed')
  t.ok(discovery.request_object_signing_alg_values_supported.includes('ES256'))
  t.notOk(discovery.request_object_signing_alg_values_supported.includes('HS256'), 'no shared-secret algorithms (secrets are kept hashed)')

  const unsigned = new UnsecuredJWT(authorization(signer, { redirect_uri: REDIRECT })).encode()
  const flow = await runCodeFlow(app, { clientId: signer.client_id, redirectUri: 'https://rp.example.com/not-registered', scope: 'openid', pkce: false, extra: { request: unsigned } })
  t.ok(flow.code, 'an unsigned object is opened; its redirect_uri wins over an unregistered outside one (oidcc-ensure-request-object-with-redirect-uri)')

  const plain = await runCodeFlow(app, { clientId: strict.client_id, redirectUri: REDIRECT, scope: 'openid' })
  t.equal(plain.location.searchParams.get('error'), 'invalid_request', 'require_signed_request_object: plain parameters refused')
  t.match(plain.location.searchParams.get('error_description'), /signed request object/)
  const strictUnsigned = await authorize(app, { client_id: strict.client_id, response_type: 'code', redirect_uri: REDIRECT, request: new UnsecuredJWT(authorization(strict)).encode() })
  t.equal(strictUnsigned.location?.searchParams.get('error'), 'invalid_request_object', 'and unsigned objects too')
  const strictSigned = await runCodeFlow(app, { clientId: strict.client_id, redirectUri: REDIRECT, scope: 'openid', pkce: false, extra: { request: await sign(authorization(strict)) } })
  t.ok(strictSigned.code, 'a signed object passes')

  // RFC 9126 §3: a pushed request may be a request object; the request_uri stands for it.
  const auth = { authorization: basic(strict.client_id, strict.client_secret!) }
  const plainPush = await postForm(app, '/par', { response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }, auth)
  t.equal(plainPush.statusCode, 400, 'require_signed_request_object holds at PAR')
  t.equal(plainPush.json().error, 'invalid_request')
  const pushed = await postForm(app, '/par', { request: await sign(authorization(strict, { state: 'pushed-state' })) }, auth)
  t.equal(pushed.statusCode, 201, 'a signed object pushed')
  // The browser is signed in (the flow above): the pushed request is answered at once.
  const used = await app.inject({ url: `/authorize?${new URLSearchParams({ client_id: strict.client_id, request_uri: pushed.json().request_uri })}`, headers: { cookie: strictSigned.jar.header() } })
  const location = new URL(used.headers.location as string)
  t.equal(location.searchParams.get('error'), null, location.searchParams.get('error_description') ?? 'no error')
  t.equal(location.searchParams.get('state'), 'pushed-state', 'the pushed object\'s parameters')
  t.ok(location.searchParams.get('code'))
})

t.test('the host turns request objects off: request_not_supported after the redirect_uri check; foreign request_uri: request_uri_not_supported', async (t) => {
  const app = await buildApp(t, { users: testUsers, clients: [signer], requestObjects: { enabled: false } })
  const discovery = (await app.inject({ url: '/.well-known/openid-configuration' })).json()
  t.equal(discovery.request_parameter_supported, false)
  t.equal(discovery.request_uri_parameter_supported, false, 'request_uri only from PAR, never fetched')
  t.equal(discovery.request_object_signing_alg_values_supported, undefined)
  const object = await sign(authorization(signer))
  const off = await authorize(app, { client_id: signer.client_id, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, state: 's', request: object })
  t.equal(off.location?.searchParams.get('error'), 'request_not_supported')
  t.equal(off.location?.searchParams.get('state'), 's')
  const offBadRedirect = await authorize(app, { client_id: signer.client_id, response_type: 'code', redirect_uri: 'https://evil.example/cb', request: object })
  t.equal(offBadRedirect.status, 400, 'the redirect_uri is checked first: a page')
  const foreign = await authorize(app, { client_id: signer.client_id, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, request_uri: 'https://rp.example.com/request.jwt' })
  t.equal(foreign.location?.searchParams.get('error'), 'request_uri_not_supported')
  await t.rejects(buildApp(t, { requestObjects: { enabled: false, requireSigned: true } }), { code: 'FST_OIDC_INVALID_OPTION', message: /requestObjects.requireSigned/ })
})

t.test('keys from jwks_uri: fetched through the SSRF-safe fetcher (an https JWKS on loopback, development policy)', async (t) => {
  const certificate = await selfSignedCertificate()
  if (typeof certificate === 'string') {
    if (process.env.CI === 'true') t.fail(certificate)
    else t.pass('needs openssl', { skip: certificate })
    return
  }
  const server = createServer({ key: certificate.key, cert: certificate.cert }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [esJwk] }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const remote: StaticClient = { ...base, client_id: 'ro-remote', jwks: undefined, jwks_uri: `https://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json` }
  delete remote.jwks
  const app = await buildApp(t, { users: testUsers, clients: [remote], outbound: { allowLoopback: true, ca: certificate.cert } })
  const flow = await runCodeFlow(app, { clientId: remote.client_id, redirectUri: REDIRECT, scope: 'openid', pkce: false, extra: { request: await sign(authorization(remote)) } })
  t.ok(flow.code, 'verified with the keys at jwks_uri')
  const forged = await authorize(app, { client_id: remote.client_id, response_type: 'code', redirect_uri: REDIRECT, request: await sign(authorization(remote), { key: stranger.privateKey }) })
  t.equal(forged.location?.searchParams.get('error'), 'invalid_request_object', 'another key is refused')
})
