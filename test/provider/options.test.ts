import t from 'tap'
import type { Test } from 'tap'
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import { oidcProvider, MemoryStore, MemoryPasskeyStore, type OidcProviderOptions, type Store } from '../../lib/index.js'
import { oidcResourceServer } from '../../lib/resource-server/index.js'
import { OptionsSchema } from '../../lib/contracts/options.js'
import { storeMethods } from '../../lib/contracts/store.js'
import { nearestName } from '../../lib/contracts/option-schema.js'
import { testKeys } from '../helpers/keys.js'
import { testUsers } from '../helpers/users.js'
import { ISSUER } from '../helpers/app.js'

/** Registers the provider with `options` (issuer and keys given) and returns what `register` threw, if anything. */
async function registerError (options: Record<string, unknown>): Promise<(Error & { code?: string }) | undefined> {
  const app = Fastify({ logger: false })
  try {
    await app.register(oidcProvider, { issuer: ISSUER, keys: testKeys(), cookieSecret: 'x'.repeat(32), ...options } as unknown as OidcProviderOptions)
    await app.ready()
    return undefined
  } catch (error) {
    return error as Error & { code?: string }
  } finally {
    await app.close()
  }
}

async function expectRefused (t: Test, options: Record<string, unknown>, message: string): Promise<void> {
  const error = await registerError(options)
  t.equal(error?.code, 'FST_OIDC_INVALID_OPTION', `${message}: an option error`)
  t.not(error?.name, 'DataCloneError', `${message}: never a clone failure`)
  t.equal(error?.message, `fastify-oidc-provider: ${message}`)
}

t.test('an unknown option is refused at register with its path and the nearest known name', async (t) => {
  await expectRefused(t, { cookiesecret: 'y'.repeat(32) }, "unknown option 'cookiesecret' (did you mean 'cookieSecret'?)")
  await expectRefused(t, { ttl: { acessToken: 60 } }, "unknown option 'ttl.acessToken' (did you mean 'ttl.accessToken'?)")
  await expectRefused(t, { clients: [{ client_id: 'a', token_endpoint_auth_method: 'none', redirect_uri: 'https://a.example/cb' }] },
    "unknown option 'clients[0].redirect_uri' (did you mean 'clients[0].redirect_uris'?)")
  await expectRefused(t, { pages: { brand: { colors: { acent: '#e11d48' } } } }, "unknown option 'pages.brand.colors.acent' (did you mean 'pages.brand.colors.accent'?)")
  await expectRefused(t, { scopes: { roles: { claim: ['roles'] } } }, "unknown option 'scopes.roles.claim' (did you mean 'scopes.roles.claims'?)")
  await expectRefused(t, { metrics: { prefx: 'idp_' } }, "unknown option 'metrics.prefx' (did you mean 'metrics.prefix'?)")
})

t.test('a function-valued unknown option gets the same message, never a DataCloneError', async (t) => {
  await expectRefused(t, { loginUrl: () => '/login' }, "unknown option 'loginUrl'")
  await expectRefused(t, { interactions: { loginUrl: () => '/x' } }, "unknown option 'interactions.loginUrl'")
  await expectRefused(t, { cors: { alloworigin: () => true } }, "unknown option 'cors.alloworigin' (did you mean 'cors.allowOrigin'?)")
  // A function where plain data belongs is named too, rather than failing a copy.
  await expectRefused(t, { pageTitle: () => 'Sign in' }, 'option "pageTitle" must be string')
  await expectRefused(t, { ttl: { code: () => 60 } }, 'option "ttl.code" must be integer')
  // Where the schema allows any JSON (a JWK's members), a function or a cycle is still named.
  const keyClient = (key: object): Record<string, unknown> => ({ clients: [{ client_id: 'k', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key] } }] })
  await expectRefused(t, keyClient({ kty: 'EC', toJSON: () => ({}) }), 'option "clients[0].jwks.keys[0].toJSON" must be plain data')
  const looped: Record<string, unknown> = { kty: 'EC' }
  looped.self = looped
  await expectRefused(t, keyClient(looped), 'option "clients[0].jwks.keys[0].self" must be plain data (it contains itself)')
})

t.test('a name far from every known one gets no suggestion', async (t) => {
  await expectRefused(t, { colour: 'red' }, "unknown option 'colour'")
  await expectRefused(t, { ttl: { forever: true } }, "unknown option 'ttl.forever'")
  t.equal(nearestName('tll', ['ttl', 'clients']), 'ttl', 'a swap is one edit')
  t.equal(nearestName('COOKIESECRET', ['cookieSecret']), 'cookieSecret', 'case is not a difference')
  t.equal(nearestName('loginUrl', ['url', 'logoutUrl', 'signedOutUrl']), undefined, 'not close enough to suggest')
})

t.test('schema errors name the option path', async (t) => {
  await expectRefused(t, { ttl: { code: 0 } }, 'option "ttl.code" must be >= 1')
  await expectRefused(t, { clientIdMetadataDocuments: { maxBytes: 10 } }, 'option "clientIdMetadataDocuments.maxBytes" must be >= 256')
  await expectRefused(t, { resourceServers: [{ scopes: {} }] }, 'option "resourceServers[0].resource" is required')
  await expectRefused(t, { trustedIssuers: [{ issuer: 'https://idp.example', algorithms: ['HS256'] }] }, 'option "trustedIssuers[0].algorithms" must name asymmetric algorithms only (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519)')
  await expectRefused(t, { trustedIssuers: [{ issuer: ISSUER }] }, 'option "trustedIssuers[0].issuer" is this provider\'s own issuer')
  await expectRefused(t, { trustedIssuers: [{ issuer: 'https://idp.example', workloads: [{ resources: ['https://a.example/'], scopes: [] }] }] }, 'option "trustedIssuers[0].workloads[0]" needs exactly one of subject and subjectPattern')
  await expectRefused(t, { tokenExchange: { policy: 'yes' } }, 'option "tokenExchange.policy" must be a function (request) => decision | false')
  const tokenType = await registerError({ responseTypes: ['code', 'code token'] as never })
  t.match(tokenType?.message, /option "responseTypes\[1\]"/, 'a response type with token is no option')
  const noIssuer = await registerError({ issuer: undefined })
  t.match(noIssuer?.message, /option "issuer"/)
})

// Issue 26: the messages an adopter meets first are sentences that name the cause.
t.test('first-hour messages: a short secret in an array, defaultResource, registering twice', async (t) => {
  const secretSentence = 'must be a random secret of at least 32 characters, or a non-empty array of such secrets (the first signs, all verify); make one with `openssl rand -base64 32`'
  await expectRefused(t, { cookieSecret: ['short'] }, `option "cookieSecret[0]" ${secretSentence}`)
  await expectRefused(t, { cookieSecret: 'short' }, `option "cookieSecret" ${secretSentence}`)
  await expectRefused(t, { defaultResource: 'https://nowhere.example/' }, 'option "defaultResource" names "https://nowhere.example/", which is not the resource of any of `resourceServers` (nor found by `findResourceServer`)')

  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(oidcProvider, { issuer: ISSUER, keys: testKeys(), cookieSecret: 'x'.repeat(32) })
  await t.rejects(async () => { await app.register(oidcProvider, { issuer: ISSUER, keys: testKeys(), cookieSecret: 'x'.repeat(32) }) }, {
    code: 'FST_OIDC_ALREADY_REGISTERED',
    message: /^fastify-oidc-provider is already registered in this Fastify context \(app\.oidc exists\): register it once per context/,
  })
})

/** A value for every option the schema knows, as the README and the examples use them. */
function everyOption (): Record<string, unknown> {
  class RegistrationPolicy {
    // A host's own object: its fields are its business (only object literals are checked by name).
    readonly audit: string[] = []
    initialAccessToken = 'i'.repeat(20)
    async validate<M> (metadata: M): Promise<M> { return metadata }
  }
  return {
    prefix: '',
    logLevel: 'info',
    logSerializers: {},
    issuer: ISSUER,
    store: new MemoryStore(),
    keys: testKeys(),
    users: testUsers,
    cookieSecret: ['x'.repeat(32), 'y'.repeat(32)],
    ttl: { accessToken: 600, idToken: 600, refreshToken: 86400, refreshTokenAbsolute: 7 * 86400, code: 30, interaction: 300, session: 3600, grant: 86400, deviceCode: 300 },
    scopes: { roles: { claims: ['roles'], description: 'Your roles' }, phone: false },
    clients: [{ client_id: 'web', client_secret: 's'.repeat(24), redirect_uris: ['https://app.example/cb'], first_party: true }],
    registration: new RegistrationPolicy(),
    accessTokenAudience: 'https://api.example/',
    responseTypes: ['code', 'id_token', 'code id_token'],
    defaultResource: 'https://notes.example/',
    includeUserinfoAudience: true,
    nonceReplayProtection: false,
    rateLimit: { loginFailures: 5, loginWindow: 600, clientAuthFailures: 10, clientAuthWindow: 600, userCodeFailures: 5, userCodeWindow: 600 },
    cookieName: 'idp_session',
    pageTitle: 'Welcome',
    resourceServers: [{ resource: 'https://notes.example/', name: 'Notes', scopes: { 'notes:read': 'Read your notes' }, accessTokenTtl: 300, clientId: 'web' }],
    findResourceServer: async () => undefined,
    trustedIssuers: [{ issuer: 'https://idp.example', jwksUri: 'https://idp.example/jwks', algorithms: ['ES256'], idJag: true, subjectTokens: true, workloads: [{ subject: 'spiffe://example/app', resources: ['https://notes.example/'], scopes: ['notes:read'] }], maxAssertionLifetime: 300 }],
    findTrustedIssuer: async () => undefined,
    tokenExchange: { policy: () => false, idJagTtl: 120 },
    outbound: { allowLoopback: false, allowHttpLoopback: true, timeoutMs: 2000, ca: [] },
    cors: { allowOrigin: (_origin: string, { allowedByDefault }: { allowedByDefault: boolean }) => allowedByDefault },
    interactions: { url: (interaction: { id: string }) => `/login?interaction_id=${interaction.id}` },
    tokenClaims: { accessToken: () => ({ tenant: 'acme' }), idToken: () => undefined },
    pages: { brand: { name: 'Acme ID', colors: { accent: '#e11d48' } }, messages: { es: { 'login.title': 'Iniciar sesión' } } },
    refreshTokenGrace: 5,
    maxSessionsPerAccount: 20,
    idTokenScopeClaims: false,
    defaultAcr: 'urn:example:acr:password',
    requestObjects: { enabled: true, allowUnsigned: true, requireSigned: false },
    dpop: { requireNonce: true, proofMaxAge: 60 },
    par: { required: false, ttl: 60 },
    clientIdMetadataDocuments: { maxBytes: 4096, maxCacheSeconds: 3600, minCacheSeconds: 30, allow: (url: URL) => url.hostname === 'apps.example' },
    accessTokenSigningAlg: 'RS256',
    metrics: { registry: new Registry(), prefix: 'idp_', route: '/metrics' },
    health: { route: '/health', timeoutMs: 500 },
    passkeys: { store: new MemoryPasskeyStore(), rpId: 'localhost', rpName: 'Acme ID', offerEnrolment: false, acr: { deviceBound: 'hw', synced: 'sw' }, challengeTtl: 120 },
    deviceFlow: { interval: 3 },
    accountPage: true,
  }
}

t.test('every option that exists still registers', async (t) => {
  const options = everyOption()
  const known = OptionsSchema.properties as Record<string, { properties?: object }>
  t.same(Object.keys(options).sort(), Object.keys(known).sort(), 'the test gives every option the schema knows')
  for (const group of ['ttl', 'rateLimit', 'outbound', 'dpop', 'par', 'health', 'deviceFlow', 'tokenExchange']) {
    t.same(Object.keys(options[group] as object).sort(), Object.keys(known[group]?.properties ?? {}).sort(), `and every member of ${group}`)
  }
  const ttl = options.ttl as Record<string, number>
  const before = structuredClone(ttl)
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(oidcProvider, options as unknown as OidcProviderOptions)
  await app.ready()
  t.equal((await app.inject('/health/ready')).statusCode, 200, 'the provider answers')
  const discovery = (await app.inject('/.well-known/openid-configuration')).json()
  t.ok(discovery.scopes_supported.includes('roles'), 'the scopes option applied')
  t.notOk(discovery.scopes_supported.includes('phone'))
  t.same(discovery.response_types_supported, ['code', 'id_token', 'code id_token'], 'the responseTypes option applied')
  t.ok(discovery.request_object_signing_alg_values_supported.includes('none'), 'the requestObjects option applied')
  t.equal((await app.inject('/account')).statusCode, 200, 'the accountPage option applied')
  t.same(ttl, before, 'defaults are not written into the host\'s objects')
})

t.test('a store is checked against the Store contract, by method name', async (t) => {
  const required = Object.entries(storeMethods).filter(([, presence]) => presence === 'required').map(([method]) => method)
  const fakeStore = (without?: string): Record<string, unknown> =>
    Object.fromEntries(required.filter((method) => method !== without).map((method) => [method, async () => undefined]))
  await expectRefused(t, { store: fakeStore('rotateRefreshToken') }, 'option "store" must implement the Store contract (missing rotateRefreshToken())')
  await expectRefused(t, { store: { ...fakeStore(), ping: 'yes' } }, 'option "store" must implement the Store contract (ping is not a function)')
  t.equal(await registerError({ store: fakeStore() as unknown as Store }), undefined, 'optional methods (ping, close, getCounters) may be absent')
})

t.test('the resource server refuses an unknown option by name', async (t) => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ jwksURI: 'https://id.example/jwks' }, "unknown option 'jwksURI' (did you mean 'jwksUri'?)"],
    [{ dpop: { markused: async () => true } }, "unknown option 'dpop.markused' (did you mean 'dpop.markUsed'?)"],
    [{ introspection: { clientId: 'api', clientSecret: 'secret', cache_ttl: 5 } }, "unknown option 'introspection.cache_ttl' (did you mean 'introspection.cacheTtl'?)"],
    [{ audience: 'https://api.example/' }, "unknown option 'audience'"],
  ]
  for (const [options, message] of cases) {
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(oidcResourceServer, { resource: 'https://api.example/', issuer: 'https://id.example', ...options } as never).ready() },
      { code: 'FST_OIDC_RS_INVALID_OPTION', message: `fastify-oidc-provider/resource-server: ${message}` }, message)
  }
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(oidcResourceServer, { resource: 'https://api.example/', issuer: 'https://id.example', logLevel: 'warn' } as never)
  await t.resolves(async () => { await app.ready() }, 'Fastify\'s own register options are known')
})
