import t, { type Test } from 'tap'
import { MemoryStore } from '../../lib/index.js'
import { buildApp } from '../helpers/app.js'

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
