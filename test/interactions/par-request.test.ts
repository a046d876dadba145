import t, { type Test } from 'tap'
import * as client from 'openid-client'
import { MemoryStore, type StaticClient } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'
import { testUsers } from '../helpers/users.js'
import { HttpBrowser } from '../helpers/http-browser.js'
import { basic, jwtClaims } from '../helpers/codes.js'
import { sha256 } from '../../lib/tokens/crypto.js'
import { pkcePair } from '../helpers/flow.js'
import { fetchedAuthorizationResponse } from '../helpers/form-post.js'
import { API_A, API_B, RS_CLIENT, RS_REDIRECT, testResourceClients, testResourceServers } from '../helpers/resources.js'

/*
 * RFC 9126 §2.1: the authorization server MUST validate a pushed request as it would an
 * authorization request sent to the authorization endpoint. These tests hold /par and
 * /authorize to the same answers, and follow a pushed `resource` (RFC 8707 §2) from the push
 * to the access token's `aud`.
 */

/** A relying party that is not first-party: its flows go through the consent page. */
const THIRD_PARTY = { client_id: 'notes-partner', client_secret: 'notes-partner-secret-0123456789' }

function clients (): StaticClient[] {
  return [
    ...testResourceClients(),
    { ...THIRD_PARTY, redirect_uris: [RS_REDIRECT], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile notes:read calendar:read' },
  ]
}

async function setup (t: Test) {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const server = await startServer(t, { store, clients: clients(), users: testUsers, resourceServers: testResourceServers() })
  const discover = async (clientId: string, secret: string) =>
    await client.discovery(new URL(server.issuer), clientId, {}, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] })
  return { ...server, store, discover }
}

/** A valid authorization request of RS_CLIENT, as form fields (`resource` may repeat). */
function requestFields (overrides: Record<string, string | string[] | undefined> = {}): URLSearchParams {
  const fields: Record<string, string | string[] | undefined> = {
    response_type: 'code',
    client_id: RS_CLIENT.client_id,
    redirect_uri: RS_REDIRECT,
    scope: 'openid notes:read',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    state: 'st-push',
    ...overrides,
  }
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(fields)) {
    for (const item of [value ?? []].flat()) params.append(name, item)
  }
  return params
}

async function push (issuer: string, fields: URLSearchParams): Promise<Response> {
  return await fetch(`${issuer}/par`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(RS_CLIENT.client_id, RS_CLIENT.client_secret) },
    body: fields.toString(),
  })
}

/** The error /authorize sends back to the redirect_uri for the same request. */
async function authorizeError (issuer: string, fields: URLSearchParams): Promise<string | null> {
  const res = await fetch(`${issuer}/authorize?${fields}`, { redirect: 'manual' })
  if (res.status !== 302) return `status ${res.status}`
  return (await fetchedAuthorizationResponse(res)).params.error ?? null
}

t.test('an unknown resource is refused at push time: 400 invalid_target as JSON, no request_uri', async (t) => {
  const { issuer } = await setup(t)
  const fields = requestFields({ resource: 'https://unknown.example/' })
  const res = await push(issuer, fields)
  t.equal(res.status, 400)
  t.match(res.headers.get('content-type'), /^application\/json/)
  t.equal(res.headers.get('cache-control'), 'no-store')
  t.notOk(res.headers.get('location'), 'RFC 9126 §2.3: never a redirect')
  const body = await res.json() as Record<string, unknown>
  t.equal(body.error, 'invalid_target')
  t.type(body.error_description, 'string')
  t.notOk('request_uri' in body)
  t.equal(await authorizeError(issuer, fields), 'invalid_target', '/authorize gives the same answer')
})

t.test('every defect /authorize refuses is refused at push time, with the same error code', async (t) => {
  const { issuer } = await setup(t)
  const cases: Array<[string, Record<string, string | string[] | undefined>, string]> = [
    ['code_challenge_method plain', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['no code_challenge_method', { code_challenge_method: undefined }, 'invalid_request'],
    ['malformed code_challenge', { code_challenge: 'short' }, 'invalid_request'],
    ['no code_challenge', { code_challenge: undefined }, 'invalid_request'],
    ['prompt=none with login', { prompt: 'none login' }, 'invalid_request'],
    ['unknown prompt value', { prompt: 'sideways' }, 'invalid_request'],
    ['unknown response_type', { response_type: 'token' }, 'unsupported_response_type'],
    ['no response_type', { response_type: undefined }, 'invalid_request'],
    ['unknown response_mode', { response_mode: 'jwt' }, 'invalid_request'],
    ['response_type id_token (not opted in)', { response_type: 'id_token' }, 'unsupported_response_type'],
    ['negative max_age', { max_age: '-1' }, 'invalid_request'],
    ['claims not JSON', { claims: '{nope' }, 'invalid_request'],
    ['malformed dpop_jkt', { dpop_jkt: 'abc' }, 'invalid_request'],
    ['nonce with a control character', { nonce: 'a\u0001b' }, 'invalid_request'],
    ['repeated scope', { scope: ['openid', 'notes:read'] }, 'invalid_request'],
    ['request object', { request: 'eyJ.x.y' }, 'request_not_supported'],
    ['forged id_token_hint', { id_token_hint: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJkZW1vIn0.' }, 'invalid_request'],
    ['resource not a URI', { resource: 'not a uri' }, 'invalid_target'],
    ['resource with a fragment', { resource: 'https://api.example/#x' }, 'invalid_target'],
    ['one unknown resource among known ones', { resource: [API_A, 'https://unknown.example/'] }, 'invalid_target'],
    ['eleven resources', { resource: Array.from({ length: 11 }, (_, index) => `https://api${index}.example/`) }, 'invalid_target'],
  ]
  for (const [name, overrides, error] of cases) {
    const fields = requestFields(overrides)
    const res = await push(issuer, fields)
    t.equal(res.status, 400, `${name}: status`)
    t.equal((await res.json() as { error: string }).error, error, `${name}: /par`)
    t.equal(await authorizeError(issuer, fields), error, `${name}: /authorize`)
  }
})

t.test('credentials are read once: a repeated one is refused before the client authenticates', async (t) => {
  const { issuer } = await setup(t)
  const fields = requestFields()
  fields.append('client_id', RS_CLIENT.client_id)
  const repeated = await fetch(`${issuer}/par`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `${fields}&client_secret=a&client_secret=b` })
  t.equal(repeated.status, 400)
  t.same(await repeated.json(), { error: 'invalid_request', error_description: "parameter 'client_id' must appear once" })
  const empty = await fetch(`${issuer}/par`, { method: 'POST' })
  t.equal(empty.status, 401, 'no body, no credentials')
  t.equal((await empty.json() as { error: string }).error, 'invalid_client')
})

t.test('a pushed resource reaches the code and the access token\'s aud (openid-client, first-party)', async (t) => {
  const { discover } = await setup(t)
  const config = await discover(RS_CLIENT.client_id, RS_CLIENT.client_secret)
  const verifier = client.randomPKCECodeVerifier()
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: RS_REDIRECT,
    scope: 'openid notes:read',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'st-res',
    resource: API_A,
  })
  t.same([...url.searchParams.keys()].sort(), ['client_id', 'request_uri'], 'the browser sees only the reference')
  const browser = new HttpBrowser()
  const back = await browser.authorize(url, { username: 'demo', password: 'demo' })
  t.ok(browser.sawLogin)
  const tokens = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: 'st-res' })
  const claims = jwtClaims(tokens.access_token)
  t.equal(claims.aud, API_A, 'one resource granted: the token is for it (RFC 8707 §2.2)')
  t.equal(claims.scope, 'notes:read', 'scoped to what the resource accepts')
})

t.test('repeated pushed resources survive login and consent; the token request picks one', async (t) => {
  const { discover } = await setup(t)
  const config = await discover(THIRD_PARTY.client_id, THIRD_PARTY.client_secret)
  const verifier = client.randomPKCECodeVerifier()
  const params = new URLSearchParams({
    redirect_uri: RS_REDIRECT,
    scope: 'openid notes:read calendar:read',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'st-two',
  })
  params.append('resource', API_A)
  params.append('resource', API_B)
  const url = await client.buildAuthorizationUrlWithPAR(config, params)
  const browser = new HttpBrowser()
  const back = await browser.authorize(url, { username: 'demo', password: 'demo' })
  t.ok(browser.sawLogin && browser.sawConsent, 'through the login page and the consent page')
  const tokens = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: 'st-two' }, { resource: API_B })
  const claims = jwtClaims(tokens.access_token)
  t.equal(claims.aud, API_B, 'the second pushed resource was granted too')
  t.equal(claims.scope, 'notes:read calendar:read')
})

t.test('a request pushed by an older instance (its record without response_type) is still served', async (t) => {
  const { issuer, store } = await setup(t)
  // Written as the PAR store writes it, with the parameters an older serializer kept.
  const reference = 'o'.repeat(43)
  await store.saveInteraction({
    interactionId: `par:${sha256(reference)}`,
    clientId: RS_CLIENT.client_id,
    params: { client_id: RS_CLIENT.client_id, redirect_uri: RS_REDIRECT, scope: 'openid notes:read', prompt: '', state: 'st-old', code_challenge: pkcePair().challenge, code_challenge_method: 'S256', resource: API_A },
    csrfToken: 'x',
    browserId: 'y',
    expiresAt: Math.floor(Date.now() / 1000) + 60,
  })
  const res = await fetch(`${issuer}/authorize?${new URLSearchParams({ client_id: RS_CLIENT.client_id, request_uri: `urn:ietf:params:oauth:request_uri:${reference}` })}`, { redirect: 'manual' })
  t.equal(res.status, 200)
  t.match(await res.text(), /name="password"/, 'the login page')
})
