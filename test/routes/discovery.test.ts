import t from 'tap'
import Fastify from 'fastify'
import { buildApp, ISSUER } from '../helpers/app.js'
import { oidcProvider } from '../../lib/index.js'
import { testKeys } from '../helpers/keys.js'

t.test('discovery describes exactly what is implemented, with issuer-derived URLs', async (t) => {
  const app = await buildApp(t)
  const res = await app.inject({ url: '/.well-known/openid-configuration', headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.match(res.headers['cache-control'], /max-age=\d+/)
  const doc = res.json()
  t.equal(doc.issuer, ISSUER)
  t.equal(doc.authorization_endpoint, `${ISSUER}/authorize`)
  t.equal(doc.token_endpoint, `${ISSUER}/token`)
  t.equal(doc.jwks_uri, `${ISSUER}/jwks.json`)
  t.equal(doc.userinfo_endpoint, `${ISSUER}/userinfo`)
  t.same(doc.response_types_supported, ['code'])
  t.same(doc.code_challenge_methods_supported, ['S256'])
  t.equal(doc.authorization_response_iss_parameter_supported, true)
  t.equal(doc.request_parameter_supported, true, 'request objects by value (issue 25)')
  t.equal(doc.require_signed_request_object, false)
  t.equal(doc.request_uri_parameter_supported, false)
  t.same(doc.id_token_signing_alg_values_supported, ['RS256'])
  t.notOk(doc.registration_endpoint, 'registration is off unless configured')
  t.notMatch(res.body, /evil\.example/, 'never derived from Host or X-Forwarded-* headers')

  const oauth = await app.inject({ url: '/.well-known/oauth-authorization-server' })
  t.same(oauth.json(), doc, 'RFC 8414 metadata is the same document')
})

t.test('under a prefix, the routes move and the issuer-derived URLs follow', async (t) => {
  const app = await buildApp(t, { issuer: 'http://localhost:3000/oidc', prefix: '/oidc' })
  const res = await app.inject({ url: '/oidc/.well-known/openid-configuration' })
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.equal(doc.issuer, 'http://localhost:3000/oidc')
  t.equal(doc.token_endpoint, 'http://localhost:3000/oidc/token')
  t.equal(doc.jwks_uri, 'http://localhost:3000/oidc/jwks.json')
  t.equal((await app.inject({ url: '/oidc/jwks.json' })).statusCode, 200)
  t.equal((await app.inject({ url: '/.well-known/openid-configuration' })).statusCode, 404)
  t.equal(app.oidc.urls.token, 'http://localhost:3000/oidc/token')
})

t.test('registration_endpoint is advertised when registration is enabled', async (t) => {
  const app = await buildApp(t, { registration: {} })
  const doc = (await app.inject({ url: '/.well-known/openid-configuration' })).json()
  t.equal(doc.registration_endpoint, `${ISSUER}/register`)
})

t.test('an issuer with a path also answers at the root, path-inserted (RFC 8414 §3.1), with the same bytes', async (t) => {
  const app = await buildApp(t, { issuer: 'http://localhost:3000/oidc', prefix: '/oidc' })
  const own = await app.inject({ url: '/oidc/.well-known/openid-configuration' })
  for (const url of ['/.well-known/oauth-authorization-server/oidc', '/.well-known/openid-configuration/oidc', '/oidc/.well-known/oauth-authorization-server']) {
    const res = await app.inject({ url, headers: { origin: 'https://mcp-client.example' } })
    t.equal(res.statusCode, 200, url)
    t.equal(res.body, own.body, `${url}: the same document, byte for byte`)
    t.equal(res.headers['access-control-allow-origin'], '*', `${url}: a public document`)
    t.match(res.headers['cache-control'], /max-age=\d+/)
  }
  const doc = own.json()
  t.equal(doc.issuer, 'http://localhost:3000/oidc')
  t.same(doc.code_challenge_methods_supported, ['S256'])
  t.equal(doc.authorization_response_iss_parameter_supported, true)
  const preflight = await app.inject({ method: 'OPTIONS', url: '/.well-known/oauth-authorization-server/oidc', headers: { origin: 'https://mcp-client.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' } })
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['access-control-allow-origin'], '*')
  t.match(preflight.headers['access-control-allow-headers'], /MCP-Protocol-Version/)
  // The root's own locations belong to an issuer without a path (RFC 8414 §3.3): not this one.
  t.equal((await app.inject({ url: '/.well-known/oauth-authorization-server' })).statusCode, 404)
  t.equal((await app.inject({ url: '/.well-known/openid-configuration' })).statusCode, 404)
})

t.test('registered inside a prefixed context, the provider cannot reach the root: it warns', async (t) => {
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } } })
  t.teardown(() => app.close())
  await app.register(async (scope) => {
    await scope.register(oidcProvider, { issuer: 'http://localhost:3000/auth/oidc', keys: testKeys(), cookieSecret: 'x'.repeat(32) })
  }, { prefix: '/auth/oidc' })
  await app.ready()
  t.equal((await app.inject({ url: '/auth/oidc/.well-known/openid-configuration' })).statusCode, 200)
  t.equal((await app.inject({ url: '/.well-known/oauth-authorization-server/auth/oidc' })).statusCode, 404)
  t.ok(lines.some((line) => line.includes('path-inserted metadata')), 'a warning names what is missing')
})
