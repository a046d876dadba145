import t from 'tap'
import * as client from 'openid-client'
import { SignJWT, decodeJwt, exportJWK, generateKeyPair, type JWK } from 'jose'
import { MemoryStore, type OidcProviderOptions } from '../../lib/index.js'
import type { TokenExchangeRequest } from '../../lib/contracts/trust.js'
import { startServer } from '../helpers/server.js'
import { testUsers } from '../helpers/users.js'
import { CONFIDENTIAL, REDIRECT_URI, issueCode } from '../helpers/codes.js'

/*
 * Issue 28, driven by openid-client v6's genericGrantRequest over real HTTP: token exchange
 * (delegation, narrowing, targets, scopes, subject tokens of other issuers), the jwt-bearer grant
 * (ID-JAG and workload profiles), ID-JAG issuance at one provider and its redemption at a second
 * that trusts the first, and revocation reaching exchanged tokens. Every refusal is a 400 with
 * its RFC error code, never a 5xx.
 */

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token'
const JWT = 'urn:ietf:params:oauth:token-type:jwt'
const ID_JAG = 'urn:ietf:params:oauth:token-type:id-jag'
const MCP = 'https://mcp.example.com/'
const CALENDAR = 'https://calendar.example.com/'
const PARTNER = 'https://partner.example.com'
const MCP_CLIENT = { client_id: 'mcp-server', client_secret: 'mcp-server-secret-0123456789' }
const WORKLOAD = 'spiffe://partner.example.com/ns/billing/sa/reporter'

const partnerKeys = await generateKeyPair('ES256')
const partnerJwk: JWK = { ...await exportJWK(partnerKeys.publicKey), kid: 'partner-1', alg: 'ES256' }
const forgerKeys = await generateKeyPair('ES256')

/** A JWT of the partner issuer (or of whoever `key` and `iss` say). */
async function partnerJwt (claims: Record<string, unknown>, options: { typ?: string, key?: Parameters<SignJWT['sign']>[0], iss?: string, exp?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return await new SignJWT({ jti: crypto.randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'partner-1', ...(options.typ === undefined ? {} : { typ: options.typ }) })
    .setIssuer(options.iss ?? PARTNER)
    .setIssuedAt(now)
    .setExpirationTime(options.exp ?? now + 120)
    .sign(options.key ?? partnerKeys.privateKey)
}

/** `alg: none`: a header and payload with an empty signature. */
function unsigned (claims: Record<string, unknown>): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'none', typ: 'oauth-id-jag+jwt' })}.${part(claims)}.`
}

async function hs256 (claims: Record<string, unknown>): Promise<string> {
  return await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'partner-1', typ: 'oauth-id-jag+jwt' }).setIssuedAt().setExpirationTime('2m').sign(new TextEncoder().encode('x'.repeat(32)))
}

/** The error a grant request was refused with: its RFC code and HTTP status. */
async function refusal (promise: Promise<unknown>): Promise<{ error?: string, status?: number }> {
  return await promise.then(
    () => ({ error: 'none (it succeeded)' }),
    (error: { error?: string, status?: number }) => ({ error: error.error, status: error.status })
  )
}

const policyCalls: TokenExchangeRequest[] = []
const store = new MemoryStore()
t.teardown(() => store.close())

// Provider A: the enterprise identity provider and the authorization server of the MCP server and the calendar.
const idp = await startServer(t, {
  store,
  users: testUsers,
  metrics: true,
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  clients: [
    { ...CONFIDENTIAL, redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token', EXCHANGE, JWT_BEARER], scope: 'openid profile email offline_access calendar:read' },
    { ...MCP_CLIENT, grant_types: [EXCHANGE], scope: 'calendar:read calendar:write' },
  ],
  resourceServers: [
    { resource: MCP, scopes: { 'calendar:read': 'Read your calendar', 'calendar:write': 'Change your calendar' }, clientId: MCP_CLIENT.client_id },
    { resource: CALENDAR, scopes: { 'calendar:read': 'Read your calendar', 'calendar:write': 'Change your calendar' } },
  ],
  trustedIssuers: [{
    issuer: PARTNER,
    jwks: { keys: [partnerJwk as Record<string, unknown>] },
    idJag: true,
    subjectTokens: true,
    workloads: [{ subjectPattern: '^spiffe://partner\\.example\\.com/ns/billing/.+$', resources: [CALENDAR], scopes: ['calendar:read'] }],
  }],
  tokenExchange: {
    policy (request) {
      policyCalls.push(request)
      if (request.allowedByDefault) return {}
      if (request.requestedTokenType === 'id-jag') return request.client.client_id === CONFIDENTIAL.client_id ? {} : false
      return request.subject.issuer === PARTNER ? {} : false
    },
  },
} satisfies Partial<OidcProviderOptions>)

const execute = { execute: [client.allowInsecureRequests] }
const configure = async (issuer: string, id: string, secret: string): Promise<client.Configuration> =>
  await client.discovery(new URL(issuer), id, undefined, client.ClientSecretBasic(secret), execute)
const web = await configure(idp.issuer, CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret)
const mcp = await configure(idp.issuer, MCP_CLIENT.client_id, MCP_CLIENT.client_secret)

// The user signed in to the agent, which got a token for the MCP server (and an ID token, a refresh token).
const issued = await issueCode(store, { scope: 'openid offline_access calendar:read', resources: [MCP] })
const callback = new URL(REDIRECT_URI)
callback.searchParams.set('code', issued.code)
callback.searchParams.set('iss', idp.issuer)
const user = await client.authorizationCodeGrant(web, callback, { pkceCodeVerifier: issued.verifier, idTokenExpected: true })
const userToken = user.access_token

t.test('discovery lists both grants, the ID-JAG profile and the ID-JAG token type', async (t) => {
  const metadata = web.serverMetadata()
  t.ok(metadata.grant_types_supported?.includes(EXCHANGE))
  t.ok(metadata.grant_types_supported?.includes(JWT_BEARER))
  t.same(metadata.authorization_grant_profiles_supported, ['urn:ietf:params:oauth:grant-profile:id-jag'])
  t.same(metadata.identity_chaining_requested_token_types_supported, [ID_JAG])
})

t.test('delegation: the MCP server exchanges the token it received for a calendar token carrying act', async (t) => {
  t.equal(decodeJwt(userToken).aud, MCP, 'the user token is for the MCP server')
  const exchanged = await client.genericGrantRequest(mcp, EXCHANGE, { subject_token: userToken, subject_token_type: ACCESS_TOKEN, resource: CALENDAR })
  t.equal(exchanged.issued_token_type, ACCESS_TOKEN)
  t.equal(exchanged.refresh_token, undefined, 'no refresh token')
  const claims = decodeJwt(exchanged.access_token)
  t.match(claims, { sub: 'demo', aud: CALENDAR, client_id: MCP_CLIENT.client_id, act: { sub: MCP_CLIENT.client_id }, scope: 'calendar:read', grant_id: issued.grantId })
  t.equal(policyCalls.at(-1)?.allowedByDefault, true, 'the safe default covers a resource server exchanging what it received')

  const narrowed = await client.genericGrantRequest(mcp, EXCHANGE, { subject_token: userToken, subject_token_type: ACCESS_TOKEN, resource: CALENDAR, scope: 'calendar:read' })
  t.equal(narrowed.scope, 'calendar:read')

  t.match(await refusal(client.genericGrantRequest(mcp, EXCHANGE, { subject_token: userToken, subject_token_type: ACCESS_TOKEN, resource: CALENDAR, scope: 'calendar:read calendar:write' })),
    { error: 'invalid_scope', status: 400 }, 'a scope the subject token lacks is refused')
  t.match(await refusal(client.genericGrantRequest(mcp, EXCHANGE, { subject_token: userToken, subject_token_type: ACCESS_TOKEN, resource: 'https://unknown.example.com/' })),
    { error: 'invalid_target', status: 400 })
  t.match(await refusal(client.genericGrantRequest(mcp, EXCHANGE, { subject_token: userToken, subject_token_type: ACCESS_TOKEN, audience: 'not a uri' })),
    { error: 'invalid_target', status: 400 })
  t.match(await refusal(client.genericGrantRequest(mcp, EXCHANGE, { subject_token: 'garbage', subject_token_type: ACCESS_TOKEN, resource: CALENDAR })),
    { error: 'invalid_request', status: 400 }, 'RFC 8693 §2.2.2: an invalid subject token is invalid_request')
  t.match(await refusal(client.genericGrantRequest(web, EXCHANGE, { subject_token: userToken, subject_token_type: ACCESS_TOKEN, resource: CALENDAR })),
    { error: 'invalid_request', status: 400 }, 'another client than the token\'s audience is refused by the policy')

  // Introspection shows act; revoking the user's grant ends the exchanged token too.
  const before = await client.tokenIntrospection(mcp, exchanged.access_token)
  t.match(before, { active: true, sub: 'demo', act: { sub: MCP_CLIENT.client_id } })
  await idp.app.oidc.revokeGrant(issued.grantId)
  const after = await client.tokenIntrospection(mcp, exchanged.access_token)
  t.equal(after.active, false, 'the exchanged token died with the user\'s grant')
})

t.test('a DPoP-bound subject token is exchanged only with a proof of its key', async (t) => {
  const dpopKeys = await client.randomDPoPKeyPair('ES256')
  const fresh = await issueCode(store, { scope: 'calendar:read', resources: [MCP] })
  const url = new URL(REDIRECT_URI)
  url.searchParams.set('code', fresh.code)
  url.searchParams.set('iss', idp.issuer)
  const bound = await client.authorizationCodeGrant(web, url, { pkceCodeVerifier: fresh.verifier }, undefined, { DPoP: client.getDPoPHandle(web, dpopKeys) })
  t.ok(decodeJwt(bound.access_token).cnf, 'the user token is DPoP-bound')
  const request = { subject_token: bound.access_token, subject_token_type: ACCESS_TOKEN, resource: CALENDAR }
  t.match(await refusal(client.genericGrantRequest(mcp, EXCHANGE, request)), { error: 'invalid_request', status: 400 }, 'a stolen bound token cannot become a bearer token')
  const exchanged = await client.genericGrantRequest(mcp, EXCHANGE, request, { DPoP: client.getDPoPHandle(mcp, dpopKeys) })
  t.equal(exchanged.token_type, 'dpop', 'with the proof: exchanged, and bound to the same key')
})

t.test('subject tokens of a trusted issuer: nested act, may_act, and every malformed one refused', async (t) => {
  const subject = await partnerJwt({ sub: 'alice', aud: idp.issuer, scope: 'calendar:read', act: { sub: 'agent-7' } })
  const exchanged = await client.genericGrantRequest(mcp, EXCHANGE, { subject_token: subject, subject_token_type: JWT, resource: CALENDAR })
  t.match(decodeJwt(exchanged.access_token), { sub: 'alice', act: { sub: MCP_CLIENT.client_id, act: { sub: 'agent-7' } } }, 'RFC 8693 §4.1: the earlier actor nested')

  const withActor = await client.genericGrantRequest(mcp, EXCHANGE, {
    subject_token: await partnerJwt({ sub: 'alice', aud: idp.issuer, scope: 'calendar:read', may_act: { sub: 'bot-1', iss: PARTNER } }),
    subject_token_type: JWT,
    actor_token: await partnerJwt({ sub: 'bot-1', aud: idp.issuer }),
    actor_token_type: JWT,
    resource: CALENDAR,
  })
  t.match(decodeJwt(withActor.access_token).act, { sub: 'bot-1', iss: PARTNER }, 'the actor token\'s party, allowed by may_act')
  t.match(await refusal(client.genericGrantRequest(mcp, EXCHANGE, {
    subject_token: await partnerJwt({ sub: 'alice', aud: idp.issuer, may_act: { sub: 'someone-else' } }), subject_token_type: JWT, resource: CALENDAR,
  })), { error: 'invalid_request', status: 400 }, 'an actor may_act does not name')

  const claims = { sub: 'alice', aud: idp.issuer, scope: 'calendar:read' }
  const bad: Record<string, string> = {
    untrusted: await partnerJwt(claims, { iss: 'https://stranger.example.com' }),
    expired: await partnerJwt(claims, { exp: Math.floor(Date.now() / 1000) - 120 }),
    forged: await partnerJwt(claims, { key: forgerKeys.privateKey }),
    'alg none': unsigned({ ...claims, iss: PARTNER, exp: Math.floor(Date.now() / 1000) + 60 }),
    HS256: await hs256({ ...claims, iss: PARTNER }),
    'an ID-JAG': await partnerJwt(claims, { typ: 'oauth-id-jag+jwt' }),
  }
  for (const [name, token] of Object.entries(bad)) {
    t.match(await refusal(client.genericGrantRequest(mcp, EXCHANGE, { subject_token: token, subject_token_type: JWT, resource: CALENDAR })),
      { error: 'invalid_request', status: 400 }, `${name}: refused`)
  }
})

t.test('jwt-bearer, ID-JAG profile: redeemed once, for its client, and every malformed one refused', async (t) => {
  const claims = { sub: 'alice', aud: idp.issuer, client_id: CONFIDENTIAL.client_id, resource: CALENDAR, scope: 'calendar:read calendar:write' }
  const assertion = await partnerJwt(claims, { typ: 'oauth-id-jag+jwt' })
  const token = await client.genericGrantRequest(web, JWT_BEARER, { assertion })
  t.equal(token.scope, 'calendar:read', 'requested ∩ asserted ∩ registered')
  t.match(decodeJwt(token.access_token), { sub: 'alice', aud: CALENDAR, client_id: CONFIDENTIAL.client_id })
  t.equal(token.refresh_token, undefined)
  t.match(await refusal(client.genericGrantRequest(web, JWT_BEARER, { assertion })), { error: 'invalid_grant', status: 400 }, 'a reused jti')

  const now = Math.floor(Date.now() / 1000)
  const idJag = { typ: 'oauth-id-jag+jwt' }
  const bad: Record<string, string> = {
    'another client': await partnerJwt({ ...claims, client_id: 'mcp-server' }, idJag),
    'another audience': await partnerJwt({ ...claims, aud: 'https://elsewhere.example.com' }, idJag),
    'no typ': await partnerJwt(claims),
    untrusted: await partnerJwt(claims, { ...idJag, iss: 'https://stranger.example.com' }),
    expired: await partnerJwt(claims, { ...idJag, exp: now - 120 }),
    'too long-lived': await partnerJwt(claims, { ...idJag, exp: now + 86400 }),
    forged: await partnerJwt(claims, { ...idJag, key: forgerKeys.privateKey }),
    'alg none': unsigned({ ...claims, iss: PARTNER, jti: 'x', iat: now, exp: now + 60 }),
    HS256: await hs256({ ...claims, iss: PARTNER, jti: 'y' }),
    'not a JWT': 'a.b',
  }
  for (const [name, token] of Object.entries(bad)) {
    t.match(await refusal(client.genericGrantRequest(web, JWT_BEARER, { assertion: token })), { error: 'invalid_grant', status: 400 }, `${name}: refused`)
  }
})

t.test('jwt-bearer, workload profile: no client authentication, the issuer\'s rules bound the token', async (t) => {
  const post = async (fields: Record<string, string>): Promise<{ status: number, body: Record<string, unknown> }> => {
    const response = await fetch(`${idp.issuer}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: JWT_BEARER, ...fields }) })
    return { status: response.status, body: await response.json() as Record<string, unknown> }
  }
  const assertion = async (sub = WORKLOAD): Promise<string> => await partnerJwt({ sub, aud: `${idp.issuer}/token` })
  const ok = await post({ assertion: await assertion(), resource: CALENDAR })
  t.equal(ok.status, 200)
  t.match(decodeJwt(ok.body.access_token as string), { sub: WORKLOAD, client_id: WORKLOAD, aud: CALENDAR, scope: 'calendar:read' })
  t.match(await post({ assertion: await assertion(), resource: MCP }), { status: 400, body: { error: 'invalid_target' } })
  t.match(await post({ assertion: await assertion(), resource: CALENDAR, scope: 'calendar:write' }), { status: 400, body: { error: 'invalid_scope' } })
  t.match(await post({ assertion: await assertion() }), { status: 400, body: { error: 'invalid_request' } }, 'resource is required')
  t.match(await post({ assertion: await assertion('spiffe://partner.example.com/ns/other/sa/x'), resource: CALENDAR }), { status: 400, body: { error: 'invalid_grant' } })
})

t.test('ID-JAG: issued by the enterprise provider, redeemed at a second provider that trusts it', async (t) => {
  const resourceAs = await startServer(t, {
    outbound: { allowHttpLoopback: true, allowLoopback: true },
    clients: [{ ...CONFIDENTIAL, grant_types: [JWT_BEARER], scope: 'notes:read notes:write' }],
    resourceServers: [{ resource: 'https://notes.example.com/', scopes: { 'notes:read': 'Read notes', 'notes:write': 'Write notes' } }],
    // Keys by discovery: the enterprise provider's metadata names its jwks_uri.
    trustedIssuers: [{ issuer: idp.issuer, idJag: true }],
  })
  const fresh = await issueCode(store, { scope: 'openid offline_access' })
  const url = new URL(REDIRECT_URI)
  url.searchParams.set('code', fresh.code)
  url.searchParams.set('iss', idp.issuer)
  const signedIn = await client.authorizationCodeGrant(web, url, { pkceCodeVerifier: fresh.verifier, idTokenExpected: true })

  const grant = await client.genericGrantRequest(web, EXCHANGE, {
    requested_token_type: ID_JAG,
    subject_token: signedIn.id_token ?? '',
    subject_token_type: ID_TOKEN,
    audience: resourceAs.issuer,
    resource: 'https://notes.example.com/',
    scope: 'notes:read',
  })
  t.equal(grant.issued_token_type, ID_JAG)
  t.equal(grant.token_type, 'n_a', 'N_A (openid-client lower-cases it)')
  t.match(decodeJwt(grant.access_token), { iss: idp.issuer, sub: 'demo', aud: resourceAs.issuer, client_id: CONFIDENTIAL.client_id, resource: 'https://notes.example.com/', scope: 'notes:read' })
  t.match(await refusal(client.genericGrantRequest(mcp, EXCHANGE, { requested_token_type: ID_JAG, subject_token: signedIn.id_token ?? '', subject_token_type: ID_TOKEN, audience: resourceAs.issuer })),
    { error: 'invalid_request', status: 400 }, 'another client cannot present the user\'s ID token')

  const atResource = await configure(resourceAs.issuer, CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret)
  const token = await client.genericGrantRequest(atResource, JWT_BEARER, { assertion: grant.access_token })
  t.match(decodeJwt(token.access_token), { iss: resourceAs.issuer, sub: 'demo', aud: 'https://notes.example.com/', scope: 'notes:read', client_id: CONFIDENTIAL.client_id })
  t.match(await refusal(client.genericGrantRequest(atResource, JWT_BEARER, { assertion: grant.access_token })), { error: 'invalid_grant', status: 400 }, 'single use')
  t.match(await refusal(client.genericGrantRequest(web, JWT_BEARER, { assertion: grant.access_token })), { error: 'invalid_grant', status: 400 },
    'the issuing provider never redeems its own ID-JAG')
})

t.test('metrics count tokens by grant type', async (t) => {
  const text = await idp.app.oidc.metrics?.registry.getSingleMetricAsString('oidc_tokens_issued_total')
  t.match(text, `grant_type="${EXCHANGE}"`)
  t.match(text, `grant_type="${JWT_BEARER}"`)
})
