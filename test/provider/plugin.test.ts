import t from 'tap'
import Fastify from 'fastify'
import { oidcProvider, MemoryStore, type KeySource, type OidcProviderOptions } from '../../lib/index.js'
import { testKeys } from '../helpers/keys.js'
import { buildApp } from '../helpers/app.js'

async function registerWith (options: Record<string, unknown>): Promise<Error | undefined> {
  const app = Fastify({ logger: false })
  try {
    await app.register(oidcProvider, { keys: testKeys(), ...options } as unknown as OidcProviderOptions)
    await app.ready()
    return undefined
  } catch (error) {
    return error as Error
  } finally {
    await app.close()
  }
}

t.test('a missing or bad option fails register with a message naming it', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{}, /option "issuer"/],
    [{ issuer: 'not a url' }, /option "issuer"/],
    [{ issuer: 'ftp://x.example' }, /option "issuer"/],
    [{ issuer: 'https://x.example?q=1' }, /option "issuer"/],
    [{ issuer: 'https://x.example', cookieSecret: 'short' }, /option "cookieSecret"/],
    [{ issuer: 'https://x.example', ttl: { accessToken: 0 } }, /option "ttl.accessToken"/],
    [{ issuer: 'https://x.example', ttl: { code: 'long' } }, /option "ttl.code"/],
    [{ issuer: 'https://x.example', store: {} }, /option "store".*missing getClient/],
    [{ issuer: 'https://x.example', keys: 'keys/' }, /option "keys"/],
    [{ issuer: 'https://x.example', users: { authenticate () {} } }, /option "users"/],
    [{ issuer: 'https://x.example', registration: 'open' }, /option "registration"/],
    [{ issuer: 'https://x.example', registration: { initialAccessToken: 'short' } }, /option "registration.initialAccessToken"/],
    [{ issuer: 'https://x.example', clients: [{ client_id: 'a', redirect_uris: ['https://a.example/cb'] }] }, /option "clients\[0\].client_secret"/],
    [{ issuer: 'https://x.example', clients: [{ client_id: 'a', redirect_uris: ['javascript:alert(1)'], token_endpoint_auth_method: 'none' }] }, /option "clients\[0\]"/],
    [{ issuer: 'https://x.example', rateLimit: { loginFailures: -1 } }, /option "rateLimit.loginFailures"/],
  ]
  for (const [options, message] of cases) {
    const error = await registerWith(options)
    t.ok(error, JSON.stringify(options))
    t.match(error?.message, message, JSON.stringify(options))
  }
  t.equal(await registerWith({ issuer: 'https://x.example' }), undefined, 'the minimal options work')
})

t.test('the host keeps its own error handler, parsers and reply.view', async (t) => {
  const app = Fastify({ logger: false })
  app.setErrorHandler(async (_error, _request, reply) => reply.code(418).send({ host: true }))
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, { hostParsed: body }))
  await app.register(oidcProvider, { issuer: 'http://localhost:3000', keys: testKeys(), cookieSecret: 'x'.repeat(32) })
  app.get('/host-error', async () => { throw new Error('boom') })
  app.post('/host-json', async (request) => request.body)
  await app.ready()
  t.teardown(() => app.close())
  t.equal((await app.inject('/host-error')).statusCode, 418, 'host errors go to the host handler')
  const parsed = await app.inject({ method: 'POST', url: '/host-json', headers: { 'content-type': 'application/json' }, payload: '{"a":1}' })
  t.same(parsed.json(), { hostParsed: '{"a":1}' }, 'the host JSON parser is untouched')
  t.equal(app.hasReplyDecorator('view'), false, 'no reply.view forced on the host')
  t.equal(app.hasReplyDecorator('oidcPages'), false, 'our view decorator stays encapsulated')
  t.type(app.oidc.reloadKeys, 'function')
  t.equal(app.oidc.issuer, 'http://localhost:3000')
})

t.test('errors: unknown failures are a generic server_error, store outages 503', async (t) => {
  const failing = new MemoryStore()
  const { StoreUnavailableError } = await import('../../lib/index.js')
  let mode: 'outage' | 'bug' = 'outage'
  failing.getClient = async () => {
    if (mode === 'outage') throw new StoreUnavailableError('redis down')
    throw new Error('secret internals at /srv/app.js:42')
  }
  const app = await buildApp(t, { store: failing })
  const outage = await app.inject({ url: '/authorize?client_id=x&redirect_uri=https://a/cb' })
  t.equal(outage.statusCode, 503)
  t.match(outage.body, /temporarily_unavailable/)
  t.equal(outage.headers['retry-after'], '5')
  mode = 'bug'
  const bug = await app.inject({ url: '/authorize?client_id=x&redirect_uri=https://a/cb' })
  t.equal(bug.statusCode, 500)
  t.match(bug.body, /server_error/)
  t.notMatch(bug.body, /secret internals|srv\/app/)
  const discovery = await app.inject('/.well-known/openid-configuration')
  t.equal(discovery.statusCode, 200, 'discovery does not need the store')
})

t.test('a key source that signs itself (KMS-style) is used as is', async (t) => {
  let calls = 0
  const inner = testKeys()
  const kms: KeySource = {
    async load (context) {
      const set = await inner.load(context)
      return {
        publicKeys: set.publicKeys,
        signingKey: { kid: set.signingKey.kid, alg: 'RS256', async sign (data) { calls++; return await set.signingKey.sign(data) } },
      }
    },
  }
  const app = await buildApp(t, { keys: kms })
  const jwks = (await app.inject('/jwks.json')).json()
  t.equal(jwks.keys.length, 1)
  t.equal(calls, 0, 'keys are loaded, not used, at registration')
  const bad: KeySource = { async load () { return { signingKey: { kid: 'a', alg: 'RS256', sign: async () => new Uint8Array() }, publicKeys: [] } } }
  const error = await registerWith({ issuer: 'https://x.example', keys: bad })
  t.match(error?.message, /publicKeys/)
})
