import t from 'tap'
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import { SignJWT } from 'jose'
import { oidcProvider, type KeySource, type PublicJwk, type SigningKey } from '../../lib/index.js'
import { oidcResourceServer } from '../../lib/resource-server/index.js'
import { localKey } from '../../lib/adapters/keys/local.js'
import { signJwt } from '../../lib/tokens/jwt.js'
import { dpopAlgorithms } from '../../lib/tokens/dpop-proof.js'
import { freePort } from '../helpers/server.js'
import { testUsers } from '../helpers/users.js'
import { basic, jwtClaims, postForm } from '../helpers/codes.js'
import { API_A, API_A_CREDENTIALS, API_B, RS_CLIENT, RS_SERVICE, testResourceClients, testResourceServers, userTokens } from '../helpers/resources.js'

/** A key source that rotates: the newest key signs, every key stays published. */
class RotatingKeys implements KeySource {
  readonly privateKeys: KeyObject[] = [generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey]
  rotate (): void { this.privateKeys.push(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey) }
  async load (): Promise<{ signingKey: SigningKey, publicKeys: PublicJwk[] }> {
    const keys = await Promise.all(this.privateKeys.map(async (key) => await localKey(key, 'RS256')))
    return { signingKey: keys.at(-1)!.signingKey, publicKeys: keys.map((key) => key.publicJwk).reverse() }
  }
}

interface Setup {
  provider: FastifyInstance
  api: FastifyInstance
  issuer: string
  apiUrl: string
  keys: RotatingKeys
  jwksFetches: () => number
}

/**
 * The provider on a real port (with the plugin in its own app for API_B), and a second Fastify
 * instance on its own port protecting API_A with remote JWKS and introspection.
 */
async function setup (t: { teardown (fn: () => unknown): void }): Promise<Setup> {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const keys = new RotatingKeys()
  let fetches = 0
  const provider = Fastify({ logger: false })
  provider.addHook('onRequest', async (request) => { if (request.url === '/jwks.json') fetches++ })
  await provider.register(oidcProvider, { issuer, keys, cookieSecret: 'x'.repeat(32), users: testUsers, clients: testResourceClients(), resourceServers: testResourceServers() })
  // The plugin in the provider's own app: keys straight from it.
  await provider.register(async (scope) => {
    await scope.register(oidcResourceServer, { resource: API_B, issuer: provider.oidc.issuer, keys: provider.oidc, scopes: ['calendar:read', 'notes:read'] })
    scope.get('/in-app/calendar', { preHandler: scope.resourceServer.requireToken({ scopes: ['calendar:read'] }) }, async (request) => ({ sub: request.accessToken?.claims.sub }))
  })
  await provider.listen({ port, host: '127.0.0.1' })
  t.teardown(() => provider.close())

  const api = Fastify({ logger: false })
  await api.register(oidcResourceServer, {
    resource: API_A,
    issuer,
    scopes: ['notes:read', 'notes:write'],
    jwks: { cooldown: 0 },
    introspection: { ...API_A_CREDENTIALS, cacheTtl: 0 },
    resourceName: 'Notes API',
  })
  api.get('/notes', { preHandler: api.resourceServer.requireToken({ scopes: ['notes:read'] }) }, async (request) => ({
    sub: request.accessToken!.claims.sub,
    client: request.accessToken!.claims.client_id,
    scopes: [...request.accessToken!.scopes],
  }))
  api.post('/notes', { config: { accessToken: { scopes: ['notes:write'] } } }, async () => ({ saved: true }))
  api.get('/notes/live', { config: { accessToken: { scopes: ['notes:read'], introspect: true } } }, async (request) => ({ introspected: request.accessToken?.introspected }))
  api.get('/public', async (request) => ({ token: request.accessToken }))
  const apiPort = await freePort()
  await api.listen({ port: apiPort, host: '127.0.0.1' })
  t.teardown(() => api.close())
  return { provider, api, issuer, apiUrl: `http://127.0.0.1:${apiPort}`, keys, jwksFetches: () => fetches }
}

const call = async (url: string, token?: string, init: RequestInit = {}): Promise<{ status: number, challenge: string | null, body: Record<string, unknown> }> => {
  const response = await fetch(url, { ...init, headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...init.headers } })
  const text = await response.text()
  return { status: response.status, challenge: response.headers.get('www-authenticate'), body: text === '' ? {} : JSON.parse(text) }
}

const metadataA = 'resource_metadata="https://api.example/.well-known/oauth-protected-resource"'

/** Signs what we like with the provider's current key (forged-claims cases). */
async function signWithProviderKey (keys: RotatingKeys, typ: string, claims: Record<string, unknown>): Promise<string> {
  const key = await localKey(keys.privateKeys.at(-1)!, 'RS256')
  return await signJwt(key.signingKey, typ, claims)
}

t.test('resource server plugin, in another app over HTTP and in the provider\'s own app', async (t) => {
  const s = await setup(t)
  const tokenA = await userTokens(s.provider, { scope: 'openid offline_access notes:read calendar:read', resources: [API_A, API_B], tokenResource: API_A })
  t.equal(tokenA.status, 200, JSON.stringify(tokenA.body))
  const accessA = tokenA.body.access_token
  const claimsA = jwtClaims(accessA)

  await t.test('no token: 401 with a bare challenge naming the scope and resource_metadata', async (t) => {
    const res = await call(`${s.apiUrl}/notes`)
    t.equal(res.status, 401)
    // RFC 9449 §7.1: both schemes are offered.
    t.equal(res.challenge, `Bearer scope="notes:read", ${metadataA}, DPoP algs="${dpopAlgorithms.join(' ')}", scope="notes:read", ${metadataA}`)
    t.same(res.body, {})
  })

  await t.test('a valid token: the route runs with typed claims on the request', async (t) => {
    const res = await call(`${s.apiUrl}/notes`, accessA)
    t.equal(res.status, 200)
    t.same(res.body, { sub: 'demo', client: RS_CLIENT.client_id, scopes: ['notes:read'] })
    t.equal(s.jwksFetches(), 1, 'the first verification fetched the JWKS (discovery, then jwks_uri)')
    const open = await call(`${s.apiUrl}/public`, accessA)
    t.same(open.body, { token: null }, 'unguarded routes see no token')
  })

  await t.test('a token without the scope: 403 insufficient_scope with the scope', async (t) => {
    const res = await call(`${s.apiUrl}/notes`, accessA, { method: 'POST' })
    t.equal(res.status, 403)
    t.equal(res.challenge, `Bearer error="insufficient_scope", error_description="the access token lacks the scope notes:write", scope="notes:write", ${metadataA}`)
    t.same(res.body, { error: 'insufficient_scope', error_description: 'the access token lacks the scope notes:write' })
  })

  await t.test('a token for resource B is refused by the plugin for A, and the other way round', async (t) => {
    const refreshed = await postForm(s.provider, '/token', { grant_type: 'refresh_token', refresh_token: tokenA.body.refresh_token!, resource: API_B }, { authorization: basic(RS_CLIENT.client_id, RS_CLIENT.client_secret) })
    const accessB = refreshed.json().access_token as string
    t.equal(jwtClaims(accessB).aud, API_B)
    const atA = await call(`${s.apiUrl}/notes`, accessB)
    t.equal(atA.status, 401)
    t.match(atA.challenge, /^Bearer error="invalid_token", error_description="the access token is not for this resource", scope="notes:read", resource_metadata=/)
    const inApp = await s.provider.inject({ url: '/in-app/calendar', headers: { authorization: `Bearer ${accessB}` } })
    t.equal(inApp.statusCode, 200, inApp.body)
    t.same(inApp.json(), { sub: 'demo' })
    const aInApp = await s.provider.inject({ url: '/in-app/calendar', headers: { authorization: `Bearer ${accessA}` } })
    t.equal(aInApp.statusCode, 401)
    t.match(aInApp.headers['www-authenticate'], /error="invalid_token".*resource_metadata="https:\/\/other-api\.example\/\.well-known\/oauth-protected-resource\/v1"/)
    const none = await s.provider.inject({ url: '/in-app/calendar' })
    t.equal(none.statusCode, 401)
    t.match(none.headers['www-authenticate'], /^Bearer scope="calendar:read", resource_metadata=/)
  })

  await t.test('forged and wrong tokens: 401 invalid_token, never a 500', async (t) => {
    const now = Math.floor(Date.now() / 1000)
    const base = { iss: s.issuer, sub: 'demo', aud: API_A, iat: now, exp: now + 600, jti: 'j1', client_id: RS_CLIENT.client_id, scope: 'notes:read' }
    const publicJwk = (await s.keys.load()).publicKeys[0]!
    const publicPem = createPublicKey({ key: publicJwk as never, format: 'jwk' }).export({ format: 'pem', type: 'spki' })
    const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')
    const foreignKey = await localKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'RS256')
    const cases: Record<string, string> = {
      expired: await signWithProviderKey(s.keys, 'at+jwt', { ...base, iat: now - 4000, exp: now - 60 }),
      'not yet valid': await signWithProviderKey(s.keys, 'at+jwt', { ...base, nbf: now + 600 }),
      'an ID token (typ JWT)': tokenA.body.id_token!,
      'an ID token claims set with typ JWT': await signWithProviderKey(s.keys, 'JWT', base),
      'alg none': `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(base)}.`,
      'alg none with a signature': `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(base)}.c2ln`,
      'HS256 signed with the public key': await new SignJWT(base).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: publicJwk.kid }).sign(new TextEncoder().encode(publicPem as string)),
      'a foreign issuer': await signWithProviderKey(s.keys, 'at+jwt', { ...base, iss: 'https://evil.example' }),
      'a foreign key': await signJwt(foreignKey.signingKey, 'at+jwt', base),
      'a tampered payload': `${accessA.split('.')[0]}.${b64({ ...claimsA, scope: 'notes:read notes:write' })}.${accessA.split('.')[2]}`,
      'no client_id': await signWithProviderKey(s.keys, 'at+jwt', { ...base, client_id: undefined }),
      garbage: 'not-a-jwt',
    }
    for (const [name, token] of Object.entries(cases)) {
      const res = await call(`${s.apiUrl}/notes`, token)
      t.equal(res.status, 401, name)
      t.match(res.challenge, /^Bearer error="invalid_token", error_description="[^"\\]+", scope="notes:read", resource_metadata="[^"]+"$/, name)
      t.equal(res.body.error, 'invalid_token', name)
    }
    const control = await call(`${s.apiUrl}/notes`, await signWithProviderKey(s.keys, 'at+jwt', base))
    t.equal(control.status, 200, 'the same claims, properly signed, pass: the cases fail for their one flaw')
    const malformed = await fetch(`${s.apiUrl}/notes`, { headers: { authorization: 'Bearer a b' } })
    t.equal(malformed.status, 400)
    t.match(malformed.headers.get('www-authenticate'), /^Bearer error="invalid_request"/)
    const basicScheme = await fetch(`${s.apiUrl}/notes`, { headers: { authorization: 'Basic Zm9vOmJhcg==' } })
    t.equal(basicScheme.status, 401, 'another scheme is no Bearer token')
  })

  await t.test('a revoked token: 401 on the introspecting route, while its JWT still verifies elsewhere', async (t) => {
    const live = await call(`${s.apiUrl}/notes/live`, accessA)
    t.equal(live.status, 200)
    t.same(live.body, { introspected: true })
    const revoked = await postForm(s.provider, '/revoke', { token: accessA }, { authorization: basic(RS_CLIENT.client_id, RS_CLIENT.client_secret) })
    t.equal(revoked.statusCode, 200)
    const after = await call(`${s.apiUrl}/notes/live`, accessA)
    t.equal(after.status, 401)
    t.match(after.challenge, /error="invalid_token", error_description="the access token was revoked"/)
    t.equal((await call(`${s.apiUrl}/notes`, accessA)).status, 200, 'a route without introspect trusts the signature until exp')
  })

  await t.test('the JWKS is fetched once for many requests, and again after a key rotation', async (t) => {
    const service = async (): Promise<string> => (await postForm(s.provider, '/token', { grant_type: 'client_credentials', resource: API_A, scope: 'notes:read' }, { authorization: basic(RS_SERVICE.client_id, RS_SERVICE.client_secret) })).json().access_token
    const before = await service()
    // Earlier cases (a foreign kid) may have asked again: count from here.
    const fetched = s.jwksFetches()
    const results = await Promise.all(Array.from({ length: 30 }, async () => (await call(`${s.apiUrl}/notes`, before)).status))
    t.same(new Set(results), new Set([200]))
    t.equal(s.jwksFetches(), fetched, 'no JWKS fetch for 30 requests')
    s.keys.rotate()
    await s.provider.oidc.reloadKeys()
    const after = await service()
    t.not(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid, JSON.parse(Buffer.from(before.split('.')[0]!, 'base64url').toString()).kid)
    t.equal((await call(`${s.apiUrl}/notes`, after)).status, 200, 'a token signed with the new key')
    t.equal(s.jwksFetches(), fetched + 1, 'the unknown kid fetched the JWKS again')
    t.equal((await call(`${s.apiUrl}/notes`, before)).status, 200, 'the old key is still published')
    await Promise.all(Array.from({ length: 10 }, async () => await call(`${s.apiUrl}/notes`, after)))
    t.equal(s.jwksFetches(), fetched + 1)
    // The in-app plugin follows the rotation without HTTP.
    const inApp = await s.provider.inject({ url: '/in-app/calendar', headers: { authorization: `Bearer ${(await postForm(s.provider, '/token', { grant_type: 'client_credentials', resource: API_B }, { authorization: basic(RS_SERVICE.client_id, RS_SERVICE.client_secret) })).json().access_token}` } })
    t.equal(inApp.statusCode, 200)
    t.equal(s.jwksFetches(), fetched + 1)
  })

  await t.test('RFC 9728 protected resource metadata, readable from any origin', async (t) => {
    const res = await fetch(`${s.apiUrl}/.well-known/oauth-protected-resource`, { headers: { origin: 'https://spa.example' } })
    t.equal(res.status, 200)
    t.equal(res.headers.get('access-control-allow-origin'), '*')
    t.match(res.headers.get('content-type'), /^application\/json/)
    t.same(await res.json(), { resource: API_A, authorization_servers: [s.issuer], scopes_supported: ['notes:read', 'notes:write'], bearer_methods_supported: ['header'], resource_name: 'Notes API' })
    const preflight = await fetch(`${s.apiUrl}/.well-known/oauth-protected-resource`, { method: 'OPTIONS', headers: { origin: 'https://spa.example', 'access-control-request-method': 'GET' } })
    t.equal(preflight.status, 204)
    t.equal(preflight.headers.get('access-control-allow-origin'), '*')
    const suffixed = await s.provider.inject('/.well-known/oauth-protected-resource/v1')
    t.equal(suffixed.statusCode, 200)
    t.equal(suffixed.json().resource, API_B)
    t.same(suffixed.json().scopes_supported, ['calendar:read', 'notes:read'])
  })
})

t.test('an unreachable issuer is 503 temporarily_unavailable, not 401 or 500', async (t) => {
  const api = Fastify({ logger: false })
  const closed = await freePort()
  await api.register(oidcResourceServer, { resource: API_A, issuer: `http://127.0.0.1:${closed}`, jwks: { timeout: 2000 } })
  api.get('/x', { preHandler: api.resourceServer.requireToken() }, async () => ({ ok: true }))
  t.teardown(() => api.close())
  const now = Math.floor(Date.now() / 1000)
  const token = await signJwt((await localKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'RS256')).signingKey, 'at+jwt', { iss: `http://127.0.0.1:${closed}`, sub: 's', aud: API_A, iat: now, exp: now + 60, jti: 'j', client_id: 'c' })
  for (let i = 0; i < 2; i++) {
    const res = await api.inject({ url: '/x', headers: { authorization: `Bearer ${token}` } })
    t.equal(res.statusCode, 503)
    t.equal(res.json().error, 'temporarily_unavailable')
    t.equal(res.headers['retry-after'], '5')
  }
})

t.test('verifyRequest in the style of request.jwtVerify(): throws a challenge the route can send', async (t) => {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const provider = Fastify({ logger: false })
  await provider.register(oidcProvider, { issuer, keys: new RotatingKeys(), cookieSecret: 'x'.repeat(32), clients: testResourceClients(), resourceServers: testResourceServers() })
  await provider.register(oidcResourceServer, { resource: API_A, issuer, keys: provider.oidc, metadata: false })
  provider.get('/manual', async (request, reply) => {
    try {
      const verified = await provider.resourceServer.verifyRequest(request, { scopes: ['notes:write'] })
      return { sub: verified.claims.sub }
    } catch (error) {
      const challenge = error as { statusCode: number, headers: Record<string, string>, toJSON (): unknown }
      return await reply.code(challenge.statusCode).headers(challenge.headers).send(challenge.toJSON())
    }
  })
  await provider.ready()
  t.teardown(() => provider.close())
  const token = (await postForm(provider, '/token', { grant_type: 'client_credentials', resource: API_A }, { authorization: basic(RS_SERVICE.client_id, RS_SERVICE.client_secret) })).json().access_token
  const ok = await provider.inject({ url: '/manual', headers: { authorization: `Bearer ${token}` } })
  t.same(ok.json(), { sub: RS_SERVICE.client_id })
  const none = await provider.inject('/manual')
  t.equal(none.statusCode, 401)
  t.equal(none.headers['www-authenticate'], `Bearer scope="notes:write", ${metadataA}, DPoP algs="${dpopAlgorithms.join(' ')}", scope="notes:write", ${metadataA}`)
  t.equal((await provider.inject('/.well-known/oauth-protected-resource')).statusCode, 404, 'metadata: false')
})

t.test('resource server options are checked at registration', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ issuer: 'https://id.example' }, /option "resource"/],
    [{ resource: 'https://api.example/#x', issuer: 'https://id.example' }, /option "resource" must be an absolute URI/],
    [{ resource: API_A }, /option "issuer"/],
    [{ resource: API_A, issuer: 'https://id.example', algorithms: ['HS256'] }, /option "algorithms/],
    [{ resource: API_A, issuer: 'https://id.example', keys: {} }, /option "keys"/],
    [{ resource: API_A, issuer: 'https://id.example', clockTolerance: -1 }, /clockTolerance/],
    [{ resource: API_A, issuer: 'https://id.example', dpop: { markUsed: 'redis' } }, /option "dpop.markUsed" must be a function/],
    [{ resource: API_A, issuer: 'https://id.example', dpop: { baseUrl: 'ftp://api.example' } }, /option "dpop.baseUrl/],
  ]
  for (const [options, message] of cases) {
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(oidcResourceServer, options as never).ready() }, message)
  }
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(oidcResourceServer, { resource: API_A, issuer: 'https://id.example' })
  t.throws(() => app.resourceServer.requireToken({ introspect: true }), /introspection/)
  const twice = Fastify({ logger: false })
  t.teardown(() => twice.close())
  twice.register(oidcResourceServer, { resource: API_A, issuer: 'https://id.example' })
  await t.rejects(async () => { await twice.register(oidcResourceServer, { resource: API_B, issuer: 'https://id.example' }).ready() }, /another oidcResourceServer/)
})
