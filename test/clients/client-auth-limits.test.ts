import t, { type Test } from 'tap'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import { MemoryStore } from '../../lib/index.js'
import { buildApp, ISSUER } from '../helpers/app.js'

const service = { client_id: 'service', client_secret: 'service-secret-0123456789', grant_types: ['client_credentials' as const], scope: 'api.read' }
const other = { client_id: 'other', client_secret: 'other-secret-0123456789ab', grant_types: ['client_credentials' as const], scope: 'api.read' }

async function setup (t: Test) {
  return await buildApp(t, {
    store: new MemoryStore(),
    scopes: ['openid', 'api.read'],
    clients: [service, other],
    rateLimit: { clientAuthFailures: 3, clientAuthWindow: 60 },
  })
}

type SigningKey = Parameters<SignJWT['sign']>[0]

function basic (id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
}

/** A client_credentials request by the service client, from `remoteAddress`. */
function serviceToken (app: Awaited<ReturnType<typeof setup>>, secret: string, remoteAddress: string) {
  return app.inject({
    method: 'POST',
    url: '/token',
    remoteAddress,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('service', secret) },
    payload: 'grant_type=client_credentials',
  })
}

t.test('failed client authentications at /token lock the client_id, even with the right secret', async (t) => {
  const app = await setup(t)
  const token = (secret: string, remoteAddress: string) => serviceToken(app, secret, remoteAddress)
  // Three different IPs: the per-client counter, not the per-IP one, does the locking.
  for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) t.equal((await token('wrong', ip)).statusCode, 401)
  const locked = await token(service.client_secret, '10.0.0.4')
  t.equal(locked.statusCode, 429)
  t.equal(locked.json().error, 'invalid_client')
  t.ok(Number(locked.headers['retry-after']) > 0)
  t.equal(locked.headers['cache-control'], 'no-store')
})

t.test('failures from one IP across client_ids lock that IP, at /introspect too', async (t) => {
  const app = await setup(t)
  const introspect = (id: string, secret: string, remoteAddress = '10.1.1.1') => app.inject({
    method: 'POST',
    url: '/introspect',
    remoteAddress,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(id, secret) },
    payload: 'token=x',
  })
  t.equal((await introspect('service', 'bad')).statusCode, 401)
  t.equal((await introspect('other', 'bad')).statusCode, 401)
  t.equal((await introspect('nobody', 'bad')).statusCode, 401)
  t.equal((await introspect('other', other.client_secret)).statusCode, 429, 'the IP is locked')
  t.equal((await introspect('other', other.client_secret, '10.9.9.9')).statusCode, 200, 'another IP is not')
})

t.test('a successful authentication clears the client counter', async (t) => {
  const app = await setup(t)
  const token = (secret: string, remoteAddress: string) => serviceToken(app, secret, remoteAddress)
  t.equal((await token('wrong', '10.2.0.1')).statusCode, 401)
  t.equal((await token('wrong', '10.2.0.2')).statusCode, 401)
  t.equal((await token(service.client_secret, '10.2.0.3')).statusCode, 200)
  t.equal((await token('wrong', '10.2.0.4')).statusCode, 401)
  t.equal((await token('wrong', '10.2.0.5')).statusCode, 401)
  t.equal((await token(service.client_secret, '10.2.0.6')).statusCode, 200, 'not locked: the success reset the count')
})

t.test('refused anonymous workload assertions (jwt-bearer without client authentication) count per IP, on the client-auth limit', async (t) => {
  const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
  const PARTNER = 'https://partner.example.com'
  const NOTES = 'https://notes.example/'
  const keys = await generateKeyPair('ES256')
  const forger = await generateKeyPair('ES256')
  const app = await buildApp(t, {
    store: new MemoryStore(),
    clients: [service],
    scopes: ['openid', 'api.read'],
    rateLimit: { clientAuthFailures: 3, clientAuthWindow: 60 },
    resourceServers: [{ resource: NOTES, scopes: { 'notes:read': 'Read notes' } }],
    trustedIssuers: [{
      issuer: PARTNER,
      jwks: { keys: [{ ...await exportJWK(keys.publicKey), kid: 'k1', alg: 'ES256' }] },
      workloads: [{ subjectPattern: '^spiffe://partner\\.example/.+$', resources: [NOTES], scopes: ['notes:read'] }],
    }],
  })
  const assertion = async (key: SigningKey): Promise<string> => await new SignJWT({ jti: crypto.randomUUID(), sub: 'spiffe://partner.example/ns/a/sa/job', aud: `${ISSUER}/token` })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(PARTNER).setIssuedAt().setExpirationTime('2m').sign(key)
  const workload = async (key: SigningKey, remoteAddress: string) => await app.inject({
    method: 'POST',
    url: '/token',
    remoteAddress,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await assertion(key), resource: NOTES }).toString(),
  })

  t.equal((await workload(keys.privateKey, '10.3.0.1')).statusCode, 200, 'a good assertion gets a token')
  for (let i = 0; i < 3; i++) {
    const forged = await workload(forger.privateKey, '10.3.0.1')
    t.equal(forged.statusCode, 400, `forged assertion ${i + 1}`)
    t.equal(forged.json().error, 'invalid_grant')
  }
  const locked = await workload(keys.privateKey, '10.3.0.1')
  t.equal(locked.statusCode, 429, 'then even a good assertion from that IP is refused')
  t.same(locked.json(), { error: 'invalid_client', error_description: 'too many failed client authentications; retry later' })
  t.ok(Number(locked.headers['retry-after']) > 0)
  t.equal(locked.headers['cache-control'], 'no-store')
  t.equal((await serviceToken(app, service.client_secret, '10.3.0.1')).statusCode, 429, 'one budget per IP: client secrets from it are refused too')
  t.equal((await workload(keys.privateKey, '10.3.0.2')).statusCode, 200, 'another IP is not locked')
})

t.test("a client's counter key is the hash of its client_id, whether kept or not (issue 32)", async (t) => {
  const { clientAuthFailureKind } = await import('../../lib/http/failure-counters.js')
  const { sha256 } = await import('../../lib/tokens/crypto.js')
  t.equal(clientAuthFailureKind.nameKey('web-app'), `client-auth-fail:client:${sha256('web-app')}`)
  t.equal(clientAuthFailureKind.nameKey('web-app'), `client-auth-fail:client:${sha256('web-app')}`, 'again, from the map')
  const long = 'c'.repeat(300)
  t.equal(clientAuthFailureKind.nameKey(long), `client-auth-fail:client:${sha256(long)}`, 'a long id is hashed each time')
  for (let i = 0; i < 1100; i++) clientAuthFailureKind.nameKey(`client-${i}`)
  t.equal(clientAuthFailureKind.nameKey('client-3'), `client-auth-fail:client:${sha256('client-3')}`, 'right after the map was dropped and refilled')
})
