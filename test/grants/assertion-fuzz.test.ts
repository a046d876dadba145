import t from 'tap'
import fc from 'fast-check'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import { buildApp, ISSUER } from '../helpers/app.js'
import { basic, postForm } from '../helpers/codes.js'

/*
 * Issue 28: random and malformed assertions posted to both grants (jwt-bearer with and without
 * client authentication, token exchange with every subject token type) must never make the token
 * endpoint answer 5xx: each is a 400 (or 401 for a client problem) with an RFC error code.
 */

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const PARTNER = 'https://partner.example.com'
const AGENT = { client_id: 'agent', client_secret: 'agent-secret-0123456789' }

const keys = await generateKeyPair('ES256')
const app = await buildApp(t, {
  clients: [{ ...AGENT, grant_types: [EXCHANGE, JWT_BEARER], scope: 'notes:read' }],
  resourceServers: [{ resource: 'https://notes.example/', scopes: { 'notes:read': 'Read notes' } }],
  trustedIssuers: [{
    issuer: PARTNER,
    jwks: { keys: [{ ...await exportJWK(keys.publicKey), kid: 'k1', alg: 'ES256' }] },
    idJag: true,
    subjectTokens: true,
    workloads: [{ subjectPattern: '^spiffe://.+$', resources: ['https://notes.example/'], scopes: ['notes:read'] }],
  }],
  tokenExchange: { policy: () => ({}) },
  // Every request from one IP: refused anonymous assertions count against the per-IP limit
  // (client-auth-limits.test.ts), which would soon answer 429 and keep the fuzz from the grants.
  rateLimit: { clientAuthFailures: 1_000_000 },
})

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value) ?? 'null').toString('base64url')

/** A JSON value of any shape, claims included, to put where a header or payload belongs (finite numbers: JSON has no others, and jose refuses to sign them). */
const claimValue = fc.oneof(fc.string(), fc.integer(), fc.double({ noDefaultInfinity: true, noNaN: true }), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }))
const claims = fc.record({
  iss: fc.oneof(fc.constant(PARTNER), claimValue),
  sub: fc.oneof(fc.constant('spiffe://partner/x'), claimValue),
  aud: fc.oneof(fc.constant(ISSUER), fc.constant(`${ISSUER}/token`), claimValue),
  client_id: fc.oneof(fc.constant(AGENT.client_id), claimValue),
  exp: fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }), claimValue),
  iat: fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }), claimValue),
  jti: claimValue,
  resource: claimValue,
  scope: claimValue,
  act: claimValue,
  may_act: claimValue,
}, { requiredKeys: [] })
const header = fc.record({
  alg: fc.oneof(fc.constantFrom('ES256', 'none', 'HS256', 'RS256', 'EdDSA'), claimValue),
  typ: fc.oneof(fc.constantFrom('oauth-id-jag+jwt', 'JWT', 'at+jwt'), claimValue),
  kid: fc.oneof(fc.constant('k1'), claimValue),
  crit: claimValue,
}, { requiredKeys: [] })

/** Compact JWTs that parse but lie, real signatures over random claims, and plain junk. */
const assertion = fc.oneof(
  fc.tuple(header, claims, fc.string()).map(([h, c, s]) => `${b64(h)}.${b64(c)}.${b64(s)}`),
  claims.map((c) => ({ signed: c })),
  fc.string({ maxLength: 200 }),
  fc.array(fc.constantFrom('.', 'a', '=', '%', '{', '"'), { maxLength: 60 }).map((chars) => chars.join(''))
)

const tokenType = fc.constantFrom(
  'urn:ietf:params:oauth:token-type:access_token', 'urn:ietf:params:oauth:token-type:id_token',
  'urn:ietf:params:oauth:token-type:refresh_token', 'urn:ietf:params:oauth:token-type:jwt',
  'urn:ietf:params:oauth:token-type:id-jag', 'urn:x'
)

async function materialize (value: string | { signed: Record<string, unknown> }): Promise<string> {
  if (typeof value === 'string') return value === '' ? 'x' : value
  return await new SignJWT(value.signed).setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'oauth-id-jag+jwt' }).sign(keys.privateKey)
}

t.test('no random or malformed assertion makes either grant answer 5xx', async (t) => {
  let requests = 0
  const statuses = new Map<number, number>()
  await fc.assert(fc.asyncProperty(
    assertion, assertion, tokenType, fc.option(tokenType), fc.boolean(), fc.option(fc.string({ maxLength: 30 })),
    async (first, second, subjectType, requestedType, authenticated, resource) => {
      const auth: Record<string, string> = authenticated ? { authorization: basic(AGENT.client_id, AGENT.client_secret) } : {}
      const bearer = await postForm(app, '/token', {
        grant_type: JWT_BEARER,
        assertion: await materialize(first),
        ...(resource === null ? {} : { resource }),
      }, auth)
      const exchange = await postForm(app, '/token', {
        grant_type: EXCHANGE,
        subject_token: await materialize(first),
        subject_token_type: subjectType,
        actor_token: await materialize(second),
        actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        ...(requestedType === null ? {} : { requested_token_type: requestedType }),
        ...(resource === null ? {} : { resource, audience: resource }),
      }, { authorization: basic(AGENT.client_id, AGENT.client_secret) })
      for (const response of [bearer, exchange]) {
        requests++
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
        if (response.statusCode >= 500) throw new Error(`${response.statusCode}: ${response.body}`)
        if (response.statusCode !== 200 && typeof response.json().error !== 'string') throw new Error(`no error code: ${response.body}`)
      }
    }
  ), { numRuns: 150 })
  t.equal(statuses.get(500) ?? 0, 0, `no 5xx in ${requests} requests (${JSON.stringify(Object.fromEntries(statuses))})`)
  t.ok((statuses.get(400) ?? 0) > 0, 'the refusals were 400s')
})
