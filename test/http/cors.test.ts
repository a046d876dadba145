import t from 'tap'
import { buildApp } from '../helpers/app.js'
import { testUsers } from '../helpers/users.js'
import { runCodeFlow } from '../helpers/flow.js'
import { clientOrigins } from '../../lib/http/cors.js'

const SPA_ORIGIN = 'https://spa.example.com'
const REDIRECT = `${SPA_ORIGIN}/callback`

const clients = [
  { client_id: 'spa', token_endpoint_auth_method: 'none' as const, redirect_uris: [REDIRECT, 'com.example.app:/cb'], grant_types: ['authorization_code' as const, 'refresh_token' as const] },
  { client_id: 'web', client_secret: 'web-secret-0123456789abcdef', redirect_uris: ['https://web.example.com/cb'] },
]

function form (fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString()
}

const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' }

t.test('discovery and JWKS: any origin, no credentials, preflight answered', async (t) => {
  const app = await buildApp(t, { users: testUsers, clients })
  for (const url of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/jwks.json']) {
    const res = await app.inject({ url, headers: { origin: 'https://anyone.example' } })
    t.equal(res.statusCode, 200, url)
    t.equal(res.headers['access-control-allow-origin'], '*')
    t.notOk(res.headers['access-control-allow-credentials'])
    const preflight = await app.inject({
      method: 'OPTIONS',
      url,
      headers: { origin: 'https://anyone.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' },
    })
    t.equal(preflight.statusCode, 204)
    t.equal(preflight.headers['access-control-allow-origin'], '*')
    t.equal(preflight.headers['access-control-allow-methods'], 'GET')
    t.match(preflight.headers['access-control-allow-headers'], /MCP-Protocol-Version/)
    t.notOk(preflight.headers['access-control-allow-credentials'])
  }
})

t.test('token, revoke, userinfo, introspect, register: preflight for any origin', async (t) => {
  const app = await buildApp(t, { users: testUsers, clients, registration: {} })
  for (const [url, methods] of [['/token', 'POST'], ['/revoke', 'POST'], ['/userinfo', 'GET, POST'], ['/introspect', 'POST'], ['/register', 'POST']] as const) {
    const res = await app.inject({
      method: 'OPTIONS',
      url,
      headers: { origin: 'https://unknown.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, dpop' },
    })
    t.equal(res.statusCode, 204, url)
    t.equal(res.headers['access-control-allow-origin'], 'https://unknown.example', `${url}: a preflight names no client`)
    t.equal(res.headers['access-control-allow-methods'], methods)
    t.equal(res.headers['access-control-allow-headers'], 'Authorization, Content-Type, DPoP, MCP-Protocol-Version')
    t.equal(res.headers['access-control-max-age'], '600')
    t.match(res.headers.vary, /Origin/)
    t.notOk(res.headers['access-control-allow-credentials'])
  }
})

t.test('actual responses: ACAO only for the client\'s own origins', async (t) => {
  const app = await buildApp(t, { users: testUsers, clients })
  const flow = await runCodeFlow(app, { clientId: 'spa', redirectUri: REDIRECT })
  const exchange = async (origin: string, code: string) => await app.inject({
    method: 'POST',
    url: '/token',
    headers: { ...formHeaders, origin },
    payload: form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: flow.verifier, client_id: 'spa' }),
  })
  const foreign = await exchange('https://evil.example', flow.code!)
  t.equal(foreign.statusCode, 200, 'the request itself is not refused (CORS is for the browser)')
  t.notOk(foreign.headers['access-control-allow-origin'], 'an origin the client did not register gets no ACAO')
  t.match(foreign.headers.vary, /Origin/)

  const second = await runCodeFlow(app, { clientId: 'spa', redirectUri: REDIRECT, jar: flow.jar })
  const own = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { ...formHeaders, origin: SPA_ORIGIN },
    payload: form({ grant_type: 'authorization_code', code: second.code!, redirect_uri: REDIRECT, code_verifier: second.verifier, client_id: 'spa' }),
  })
  t.equal(own.statusCode, 200)
  t.equal(own.headers['access-control-allow-origin'], SPA_ORIGIN)
  t.equal(own.headers['access-control-expose-headers'], 'WWW-Authenticate, DPoP-Nonce')
  t.notOk(own.headers['access-control-allow-credentials'], 'never credentials')
  t.equal(own.headers['cache-control'], 'no-store')
  const tokens = own.json() as { access_token: string, refresh_token: string }

  const unauthenticated = await app.inject({ method: 'POST', url: '/token', headers: { ...formHeaders, origin: SPA_ORIGIN }, payload: form({ grant_type: 'refresh_token', refresh_token: 'x' }) })
  t.equal(unauthenticated.statusCode, 401)
  t.notOk(unauthenticated.headers['access-control-allow-origin'], 'no client, no ACAO')

  const userinfo = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokens.access_token}`, origin: SPA_ORIGIN } })
  t.equal(userinfo.statusCode, 200)
  t.equal(userinfo.headers['access-control-allow-origin'], SPA_ORIGIN, 'userinfo: the token\'s client decides')
  const userinfoForeign = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokens.access_token}`, origin: 'https://web.example.com' } })
  t.notOk(userinfoForeign.headers['access-control-allow-origin'])

  const revoke = await app.inject({ method: 'POST', url: '/revoke', headers: { ...formHeaders, origin: SPA_ORIGIN }, payload: form({ token: tokens.refresh_token, client_id: 'spa' }) })
  t.equal(revoke.statusCode, 200)
  t.equal(revoke.headers['access-control-allow-origin'], SPA_ORIGIN, 'an empty 200 gets its headers too')

  const introspect = await app.inject({
    method: 'POST',
    url: '/introspect',
    headers: { ...formHeaders, origin: 'https://web.example.com', authorization: `Basic ${Buffer.from('web:web-secret-0123456789abcdef').toString('base64')}` },
    payload: form({ token: tokens.access_token }),
  })
  t.equal(introspect.statusCode, 200)
  t.equal(introspect.headers['access-control-allow-origin'], 'https://web.example.com')

  const replay = await exchange(SPA_ORIGIN, second.code!)
  t.equal(replay.statusCode, 400, 'an error after client authentication...')
  t.equal(replay.headers['access-control-allow-origin'], SPA_ORIGIN, '...is readable by the client\'s app')
})

t.test('/authorize and the pages never answer CORS', async (t) => {
  const app = await buildApp(t, { users: testUsers, clients })
  for (const url of ['/authorize', '/consent', '/logout']) {
    const preflight = await app.inject({ method: 'OPTIONS', url, headers: { origin: SPA_ORIGIN, 'access-control-request-method': 'GET' } })
    t.equal(preflight.statusCode, 404, `${url}: no preflight`)
    t.notOk(preflight.headers['access-control-allow-origin'])
  }
  const page = await app.inject({ url: `/authorize?client_id=spa&redirect_uri=${encodeURIComponent(REDIRECT)}&response_type=code&scope=openid&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`, headers: { origin: SPA_ORIGIN } })
  t.equal(page.statusCode, 200)
  t.notOk(page.headers['access-control-allow-origin'], 'the login page is not readable cross-origin')
  const logout = await app.inject({ url: '/logout', headers: { origin: SPA_ORIGIN } })
  t.notOk(logout.headers['access-control-allow-origin'])
})

t.test('registration follows the registration policy; a host policy widens or narrows', async (t) => {
  const open = await buildApp(t, { registration: {} })
  const body = JSON.stringify({ redirect_uris: ['https://new.example/cb'] })
  const registered = await open.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/json', origin: 'https://tool.example' }, payload: body })
  t.equal(registered.statusCode, 201)
  t.equal(registered.headers['access-control-allow-origin'], 'https://tool.example', 'open registration: any origin')

  const guarded = await buildApp(t, { registration: { initialAccessToken: 'i'.repeat(20) } })
  const refused = await guarded.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/json', origin: 'https://tool.example', authorization: `Bearer ${'i'.repeat(20)}` }, payload: body })
  t.equal(refused.statusCode, 201)
  t.notOk(refused.headers['access-control-allow-origin'], 'protected registration: no origin by default')

  const seen: unknown[] = []
  const custom = await buildApp(t, {
    users: testUsers,
    clients,
    cors: {
      allowOrigin: (origin, context) => {
        seen.push({ origin, endpoint: context.endpoint, client: context.client?.client_id, allowedByDefault: context.allowedByDefault })
        return origin === 'https://console.example' || (context.allowedByDefault && origin !== SPA_ORIGIN)
      },
    },
  })
  const flow = await runCodeFlow(custom, { clientId: 'spa', redirectUri: REDIRECT })
  const res = await custom.inject({
    method: 'POST',
    url: '/token',
    headers: { ...formHeaders, origin: 'https://console.example' },
    payload: form({ grant_type: 'authorization_code', code: flow.code!, redirect_uri: REDIRECT, code_verifier: flow.verifier, client_id: 'spa' }),
  })
  t.equal(res.headers['access-control-allow-origin'], 'https://console.example', 'widened by the host')
  t.match(seen, [{ origin: 'https://console.example', endpoint: 'token', client: 'spa', allowedByDefault: false }])
  const { refresh_token: refreshToken } = res.json() as { refresh_token: string }
  const narrowed = await custom.inject({ method: 'POST', url: '/token', headers: { ...formHeaders, origin: SPA_ORIGIN }, payload: form({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'spa' }) })
  t.equal(narrowed.statusCode, 200)
  t.notOk(narrowed.headers['access-control-allow-origin'], 'narrowed by the host')

  await t.rejects(buildApp(t, { cors: { allowOrigin: 'yes' as never } }), { code: 'FST_OIDC_INVALID_OPTION' })
})

t.test('clientOrigins: the http(s) redirect URI origins only', async (t) => {
  t.same([...clientOrigins({ redirect_uris: [REDIRECT, `${SPA_ORIGIN}/other`, 'com.example.app:/cb', 'http://127.0.0.1:8080/cb'] } as never)], [SPA_ORIGIN, 'http://127.0.0.1:8080'])
})
