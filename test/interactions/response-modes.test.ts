import t from 'tap'
import { createHash } from 'node:crypto'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { MemoryStore } from '../../lib/index.js'
import { atHash } from '../../lib/tokens/issue.js'
import { buildApp, ISSUER } from '../helpers/app.js'
import { runCodeFlow, pkcePair, CookieJar, hiddenField } from '../helpers/flow.js'
import { authorizationResponse, parseFormPost } from '../helpers/form-post.js'
import { testUsers } from '../helpers/users.js'
import { basic, postForm } from '../helpers/codes.js'

/*
 * Response modes (query, fragment, form_post) and the opt-in response types id_token and
 * code id_token, through app.inject: one provider opted into every type, shared by the cases.
 */

const REDIRECT = 'https://rp.example.com/cb?tenant=a&b="c"'
const code = { client_id: 'code-app', client_secret: 'code-app-secret-0123456789', redirect_uris: [REDIRECT], first_party: true }
const hybrid = {
  client_id: 'hybrid-app',
  client_secret: 'hybrid-app-secret-0123456789',
  redirect_uris: [REDIRECT],
  grant_types: ['authorization_code', 'implicit'] as Array<'authorization_code' | 'implicit'>,
  response_types: ['code', 'id_token code', 'id_token'],
}
const store = new MemoryStore()
const app = await buildApp(t, { store, users: testUsers, clients: [code, hybrid], responseTypes: ['code', 'id_token', 'code id_token'] })

/** Redeems a flow's code at /token as its client (client_secret_basic). */
async function redeem (client: { client_id: string, client_secret: string }, flow: { code: string | null, verifier: string }): Promise<Awaited<ReturnType<typeof postForm>>> {
  return await postForm(app, '/token', { grant_type: 'authorization_code', code: flow.code ?? '', redirect_uri: REDIRECT, code_verifier: flow.verifier }, { authorization: basic(client.client_id, client.client_secret) })
}

function query (params: Record<string, string | undefined>): string {
  const q = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) if (value !== undefined) q.append(name, value)
  return q.toString()
}

const codeRequest = (extra: Record<string, string | undefined> = {}): string => query({
  response_type: 'code', client_id: code.client_id, redirect_uri: REDIRECT, scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256', state: 's<"&>\'', ...extra,
})

t.test('form_post: the auto-submitting page, its headers, escaping, and errors as a POST body', async (t) => {
  const res = await app.inject({ url: `/authorize?${codeRequest({ response_mode: 'form_post', prompt: 'none' })}` })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'text/html; charset=utf-8')
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(res.headers.location, undefined, 'no redirect: nothing in a query')
  const script = /<script>([^<]*)<\/script>/.exec(res.body)![1]!
  const hash = createHash('sha256').update(script).digest('base64')
  t.equal(res.headers['content-security-policy'], `default-src 'none'; script-src 'sha256-${hash}'; frame-ancestors 'none'; base-uri 'none'`, 'CSP allows exactly the submit script')
  t.equal((res.body.match(/<script/g) ?? []).length, 1, 'one script')
  t.match(res.body, /<noscript>.*<button type="submit">/s, 'a button without JavaScript')
  t.notMatch(res.body, /s<"&>'/, 'state escaped in the page')
  t.match(res.body, /action="https:\/\/rp\.example\.com\/cb\?tenant=a&amp;b=&quot;c&quot;"/, 'the redirect URI escaped as the action')
  t.same(parseFormPost(res.body), {
    action: REDIRECT,
    fields: { error: 'login_required', error_description: 'the user is not logged in', state: 's<"&>\'', iss: ISSUER },
  })

  // An error of the parser itself (after the redirect_uri is trusted) goes the same way.
  const refused = authorizationResponse(await app.inject({ url: `/authorize?${codeRequest({ response_mode: 'form_post', code_challenge_method: 'plain' })}` }))
  t.same(refused, { mode: 'form_post', target: REDIRECT, params: { error: 'invalid_request', error_description: 'code_challenge_method must be S256', state: 's<"&>\'', iss: ISSUER } })
  // Before the redirect_uri is trusted: an error page, in no mode.
  const untrusted = await app.inject({ url: `/authorize?${codeRequest({ response_mode: 'form_post', redirect_uri: 'https://evil.example/cb' })}` })
  t.equal(untrusted.statusCode, 400)
  t.notMatch(untrusted.body, /evil\.example/)
})

t.test('form_post code flow: login, consent denied and granted all answer by form; the code redeems', async (t) => {
  const denied = await runCodeFlow(app, { clientId: hybrid.client_id, redirectUri: REDIRECT, scope: 'openid', consent: 'deny', extra: { response_mode: 'form_post' }, state: 'd' })
  t.equal(denied.response.mode, 'form_post')
  t.same(denied.response.params, { error: 'access_denied', error_description: 'the user denied the request', state: 'd', iss: ISSUER })

  const flow = await runCodeFlow(app, { clientId: code.client_id, redirectUri: REDIRECT, scope: 'openid', state: 'ok', extra: { response_mode: 'form_post' } })
  t.equal(flow.response.mode, 'form_post')
  t.equal(flow.response.target, REDIRECT)
  t.same(Object.keys(flow.response.params), ['code', 'state', 'iss'])
  const token = await redeem(code, flow)
  t.equal(token.statusCode, 200, token.body)
})

t.test('response_type=id_token and code id_token: fragment by default, form_post on request, never query', async (t) => {
  const base = { client_id: hybrid.client_id, redirect_uri: REDIRECT, scope: 'openid profile', state: 'st' }
  const cases: Array<[Record<string, string | undefined>, string, 'fragment' | 'query']> = [
    [{ response_type: 'id_token' }, 'invalid_request', 'fragment'], // no nonce
    [{ response_type: 'id_token', nonce: 'n', response_mode: 'query' }, 'invalid_request', 'fragment'],
    [{ response_type: 'id_token token', nonce: 'n' }, 'unsupported_response_type', 'fragment'],
    [{ response_type: 'token', nonce: 'n' }, 'unsupported_response_type', 'fragment'],
    [{ response_type: 'id_token', nonce: 'n', scope: 'profile' }, 'invalid_request', 'fragment'],
    [{ response_type: 'code id_token', nonce: 'n', client_id: code.client_id }, 'unauthorized_client', 'fragment'],
  ]
  for (const [overrides, error, mode] of cases) {
    const response = authorizationResponse(await app.inject({ url: `/authorize?${query({ ...base, ...overrides })}` }))
    t.equal(response.mode, mode, JSON.stringify(overrides))
    t.equal(response.params.error, error, JSON.stringify(overrides))
    t.equal(response.params.iss, ISSUER)
  }

  const implicit = await runCodeFlow(app, { clientId: hybrid.client_id, redirectUri: REDIRECT, scope: 'openid profile', nonce: 'n-implicit', state: 'i', pkce: false, extra: { response_type: 'id_token' } })
  t.equal(implicit.response.mode, 'fragment', 'the default mode of id_token')
  t.same(Object.keys(implicit.response.params), ['id_token', 'state', 'iss'], 'no code, no access token')
  const claims = decodeJwt(implicit.response.params.id_token!)
  t.match(claims, { iss: ISSUER, aud: hybrid.client_id, azp: hybrid.client_id, sub: 'demo', nonce: 'n-implicit', name: String, auth_time: Number, sid: String })
  t.notOk('at_hash' in claims || 'c_hash' in claims, 'neither at_hash nor c_hash without a token or a code')
  t.equal(decodeProtectedHeader(implicit.response.params.id_token!).alg, 'RS256')

  const replay = await runCodeFlow(app, { clientId: hybrid.client_id, redirectUri: REDIRECT, scope: 'openid', nonce: 'n-implicit', pkce: false, jar: implicit.jar, extra: { response_type: 'id_token' } })
  t.equal(replay.response.params.error, 'invalid_request', 'a nonce is good for one ID token')

  const both = await runCodeFlow(app, { clientId: hybrid.client_id, redirectUri: REDIRECT, scope: 'openid', nonce: 'n-hybrid', state: 'h', jar: implicit.jar, extra: { response_type: 'code id_token', response_mode: 'form_post' } })
  t.equal(both.response.mode, 'form_post')
  t.same(Object.keys(both.response.params), ['code', 'id_token', 'state', 'iss'])
  const hybridClaims = decodeJwt(both.response.params.id_token!)
  t.equal(hybridClaims.c_hash, atHash(both.code!, 'RS256'), 'c_hash of the code (OIDC Core §3.3.2.11)')
  t.equal(hybridClaims.nonce, 'n-hybrid')
  const token = await redeem(hybrid, both)
  t.equal(token.statusCode, 200, token.body)
  t.equal(decodeJwt(token.json().id_token).sub, hybridClaims.sub, 'the same user in both ID tokens')
})

t.test('OIDC Core §3.1.2.1, §5.5.1.1: an ID token from /authorize has the default acr when one was asked for, as from /token', async (t) => {
  const flow = async (nonce: string, extra: Record<string, string>, jar?: CookieJar): Promise<Awaited<ReturnType<typeof runCodeFlow>>> =>
    await runCodeFlow(app, { clientId: hybrid.client_id, redirectUri: REDIRECT, scope: 'openid', nonce, pkce: false, ...(jar === undefined ? {} : { jar }), extra })
  const implicit = await flow('n-acr-1', { response_type: 'id_token', acr_values: 'urn:example:loa:2 urn:example:loa:1' })
  t.equal(decodeJwt(implicit.response.params.id_token!).acr, '0', 'acr_values: the host\'s defaultAcr (the login stated none)')
  const claimed = await flow('n-acr-2', { response_type: 'id_token', claims: JSON.stringify({ id_token: { acr: null } }) }, implicit.jar)
  t.equal(decodeJwt(claimed.response.params.id_token!).acr, '0', 'a voluntary acr claim (SSO, no new login): the same')
  const both = await runCodeFlow(app, { clientId: hybrid.client_id, redirectUri: REDIRECT, scope: 'openid', nonce: 'n-acr-3', jar: implicit.jar, extra: { response_type: 'code id_token', acr_values: '1' } })
  t.equal(decodeJwt(both.response.params.id_token!).acr, '0', 'code id_token: the front-channel ID token')
  const token = await redeem(hybrid, both)
  t.equal(decodeJwt(token.json().id_token).acr, '0', 'and the back-channel one agrees')
  const unasked = await flow('n-acr-4', { response_type: 'id_token' }, implicit.jar)
  t.notOk('acr' in decodeJwt(unasked.response.params.id_token!), 'no acr asked for, none claimed')
})

t.test('a pushed request (PAR) carries its response_mode to /authorize', async (t) => {
  const pushed = await app.inject({
    method: 'POST',
    url: '/par',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${code.client_id}:${code.client_secret}`).toString('base64')}` },
    payload: codeRequest({ response_mode: 'form_post', prompt: 'none', state: 'pushed' }),
  })
  t.equal(pushed.statusCode, 201, pushed.body)
  const response = authorizationResponse(await app.inject({ url: `/authorize?${query({ client_id: code.client_id, request_uri: pushed.json().request_uri })}` }))
  t.same(response, { mode: 'form_post', target: REDIRECT, params: { error: 'login_required', error_description: 'the user is not logged in', state: 'pushed', iss: ISSUER } })
})

t.test('discovery lists the modes and the opted-in types; registration rules follow the option', async (t) => {
  const metadata = (await app.inject({ url: '/.well-known/openid-configuration' })).json()
  t.same(metadata.response_modes_supported, ['query', 'fragment', 'form_post'])
  t.same(metadata.response_types_supported, ['code', 'id_token', 'code id_token'])
  t.ok(metadata.grant_types_supported.includes('implicit'))

  const plain = await buildApp(t, { registration: {} })
  const plainMetadata = (await plain.inject({ url: '/.well-known/openid-configuration' })).json()
  t.same(plainMetadata.response_types_supported, ['code'], 'default: code only')
  t.notOk(plainMetadata.grant_types_supported.includes('implicit'))
  const register = async (body: Record<string, unknown>) => await plain.inject({ method: 'POST', url: '/register', payload: { redirect_uris: ['https://rp.example/cb'], ...body } })
  t.match((await register({ response_types: ['id_token'], grant_types: ['implicit'] })).json(), { error: 'invalid_client_metadata' }, 'not opted in')
  t.match((await register({ response_types: ['code token'] })).json(), { error: 'invalid_client_metadata', error_description: /RFC 9700/ })

  const opted = await buildApp(t, { registration: {}, responseTypes: ['code', 'id_token'] })
  const reg = async (body: Record<string, unknown>) => await opted.inject({ method: 'POST', url: '/register', payload: { redirect_uris: ['https://rp.example/cb'], ...body } })
  t.equal((await reg({ response_types: ['id_token'], grant_types: ['implicit'], token_endpoint_auth_method: 'none' })).statusCode, 201)
  t.match((await reg({ response_types: ['id_token'] })).json(), { error: 'invalid_client_metadata', error_description: /inconsistent/ }, 'id_token needs implicit')
  t.match((await reg({ response_types: ['code id_token'], grant_types: ['authorization_code', 'implicit'] })).json(), { error: 'invalid_client_metadata' }, 'code id_token not opted in')
  // OIDC Registration §2: a web client of the implicit grant uses https, not localhost (an http issuer is let off, above).
  const secure = await buildApp(t, { issuer: 'https://id.example', registration: {}, responseTypes: ['code', 'id_token'] })
  const local = await secure.inject({ method: 'POST', url: '/register', payload: { redirect_uris: ['http://localhost:8080/cb'], response_types: ['id_token'], grant_types: ['implicit'], token_endpoint_auth_method: 'none' } })
  t.match(local.json(), { error: 'invalid_redirect_uri', error_description: /implicit grant must use https/ })
  await t.rejects(buildApp(t, { responseTypes: ['code', 'token' as 'code'] }), /responseTypes/)
  await t.rejects(buildApp(t, { clients: [{ ...hybrid }] }), /clients\[0\]/, 'a static client beyond the option fails register')
})

t.test('POST /authorize from the RP\'s site: re-posted by our page so the SameSite=Lax session comes with it', async (t) => {
  const jar = new CookieJar()
  const first = await runCodeFlow(app, { clientId: code.client_id, redirectUri: REDIRECT, scope: 'openid', jar })
  t.ok(first.code)
  const body = codeRequest({ prompt: 'none', state: 'p' })
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  // A cross-site POST: the browser leaves the Lax session cookie out, and says where it came from.
  const crossSite = await app.inject({ method: 'POST', url: '/authorize', payload: body, headers: { ...form, origin: 'https://rp.example.com', 'sec-fetch-site': 'cross-site' } })
  t.equal(crossSite.statusCode, 200)
  const repost = parseFormPost(crossSite.body)
  t.equal(repost.action, `${ISSUER}/authorize`, 'posted again to ourselves')
  t.equal(repost.fields.oidc_reposted, '1')
  t.equal(repost.fields.state, 'p')
  // Our page posts it same-origin, with the cookies: SSO works, prompt=none included.
  const again = await app.inject({ method: 'POST', url: '/authorize', payload: new URLSearchParams(repost.fields).toString(), headers: { ...form, origin: ISSUER, 'sec-fetch-site': 'same-origin', cookie: jar.header() } })
  const answer = authorizationResponse(again)
  t.equal(answer.mode, 'query')
  t.ok(answer.params.code, 'a code: the session was seen')
  // A bad request is answered at once, not re-posted.
  const bad = authorizationResponse(await app.inject({ method: 'POST', url: '/authorize', payload: codeRequest({ code_challenge_method: 'plain', response_mode: 'form_post' }), headers: { ...form, origin: 'https://rp.example.com', 'sec-fetch-site': 'cross-site' } }))
  t.equal(bad.params.error, 'invalid_request')
  // The built-in login form is still refused cross-site.
  const login = await app.inject({ url: `/authorize?${codeRequest()}` })
  const refused = await app.inject({ method: 'POST', url: '/authorize', payload: query({ interaction_id: hiddenField(login.body, 'interaction_id'), csrf_token: hiddenField(login.body, 'csrf_token'), username: 'demo', password: 'demo' }), headers: { ...form, origin: 'https://rp.example.com', 'sec-fetch-site': 'cross-site' } })
  t.equal(refused.statusCode, 403)
})
