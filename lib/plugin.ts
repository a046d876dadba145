import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import formbody from '@fastify/formbody'
import fastifyCookie from '@fastify/cookie'
import fastifyView from '@fastify/view'
import { Eta } from 'eta'
import sjson from 'secure-json-parse'
import { Compile } from 'typebox/compile'
import type { TSchema } from 'typebox'
import type { OidcProviderOptions, ResolvedOptions } from './options.js'
import { validateOptionsData } from './options.js'
import type { Store } from './adapters/store/types.js'
import type { ProviderContext } from './context.js'
import { MemoryStore } from './adapters/store/memory.js'
import { generatedKeys } from './adapters/keys/generated.js'
import { InvalidOptionError } from './errors.js'
import { KeyRing } from './keyring.js'
import { endpointUrls, externalBasePath } from './urls.js'
import { loadStaticClients } from './clients.js'
import { SecurityEventEmitter } from './events.js'
import { errorHandler } from './error-handler.js'
import { createHostApi, type OidcHostApi } from './host-api.js'
import { routeModules } from './routes/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The provider's API for host code: key rotation, grant revocation, security events. */
    oidc: OidcHostApi
  }
}

const storeMethods: ReadonlyArray<keyof Store> = [
  'getClient', 'saveClient', 'deleteClient', 'saveCode', 'consumeCode', 'saveRefreshToken',
  'findRefreshToken', 'consumeRefreshToken', 'saveGrant', 'getGrant', 'findGrant', 'revokeGrant',
  'revokeAccountGrants', 'revokeClientGrants', 'revokeAccessToken', 'isAccessTokenRevoked',
  'saveSession', 'getSession', 'deleteSession', 'deleteAccountSessions', 'saveInteraction', 'getInteraction',
  'consumeInteraction', 'markUsed', 'incrementCounter', 'getCounter', 'resetCounter',
]

/** Bodies are small: a form or a client registration. Anything larger is refused with 413. */
const bodyLimit = 64 * 1024

const viewsDir = fileURLToPath(new URL('./views/', import.meta.url))

const noUsers = {
  async authenticate (): Promise<string | null> { return null },
  async claims (): Promise<null> { return null },
}

/** Checks the adapters in code (the schema only covers plain data) and applies defaults. */
function resolveOptions (options: OidcProviderOptions, app: FastifyInstance): ResolvedOptions {
  const data = validateOptionsData(options)
  if (options.store !== undefined) {
    const missing = storeMethods.find((method) => typeof options.store?.[method] !== 'function')
    if (missing !== undefined) throw new InvalidOptionError('store', `must implement the Store contract (missing ${missing}())`)
  }
  if (options.keys !== undefined && typeof options.keys?.load !== 'function') {
    throw new InvalidOptionError('keys', 'must be a KeySource with a load() method (e.g. fileKeys({ dir }))')
  }
  if (options.users !== undefined &&
    (typeof options.users?.authenticate !== 'function' || typeof options.users.claims !== 'function')) {
    throw new InvalidOptionError('users', 'must implement authenticate(username, password) and claims(sub, scopes)')
  }
  const registration = options.registration ?? false
  if (registration !== false) {
    if (typeof registration !== 'object' || registration === null) {
      throw new InvalidOptionError('registration', 'must be false or an object ({} for open registration)')
    }
    const tokens = registration.initialAccessToken
    if (tokens !== undefined && ![tokens].flat().every((token) => typeof token === 'string' && token.length >= 16)) {
      throw new InvalidOptionError('registration.initialAccessToken', 'must be a string (or strings) of at least 16 characters')
    }
    if (registration.validate !== undefined && typeof registration.validate !== 'function') {
      throw new InvalidOptionError('registration.validate', 'must be a function')
    }
  }
  if (options.users === undefined) {
    app.log.warn('fastify-oidc-provider: no `users` adapter configured; every login will fail')
  }
  let cookieSecret = data.cookieSecret
  const generatedCookieSecret = cookieSecret === undefined
  if (generatedCookieSecret) {
    app.log.warn('fastify-oidc-provider: no `cookieSecret`; using a random one, so login sessions end on restart and are not shared between instances')
    cookieSecret = randomBytes(32).toString('base64url')
  }
  return {
    ...data,
    cookieSecret,
    store: options.store ?? new MemoryStore(),
    ownsStore: options.store === undefined,
    keys: options.keys ?? generatedKeys(),
    users: options.users ?? noUsers,
    registration,
    generatedCookieSecret,
  }
}

const oidcProviderPlugin: FastifyPluginAsync<OidcProviderOptions> = async (app, rawOptions) => {
  const options = resolveOptions(rawOptions, app)
  const issuer = options.issuer.replace(/\/+$/, '')
  const basePath = externalBasePath(issuer)
  const prefix = rawOptions.prefix ?? ''
  if (prefix !== '' && !basePath.endsWith(prefix.replace(/\/+$/, ''))) {
    app.log.warn(`fastify-oidc-provider: routes are under "${prefix}" but the issuer path is "${basePath || '/'}"; discovery URLs derive from the issuer, so make sure a proxy maps one to the other`)
  }
  const log = app.log.child({ plugin: 'fastify-oidc-provider' })
  const keys = await KeyRing.load(options.keys, { log }, issuer)
  if (options.accessTokenSigningAlg !== undefined && !keys.algorithms().includes(options.accessTokenSigningAlg)) {
    throw new InvalidOptionError('accessTokenSigningAlg', `the key source holds no ${options.accessTokenSigningAlg} key (it holds ${keys.algorithms().join(', ')})`)
  }
  const events = new SecurityEventEmitter()
  const ctx: ProviderContext = {
    issuer,
    urls: endpointUrls(issuer),
    basePath,
    options,
    store: options.store,
    users: options.users,
    keys,
    staticClients: loadStaticClients(options.clients, options.scopes, keys.algorithms()),
    events,
    log,
    audit (name, event) {
      const attack = name === 'code.replayed' || name === 'refresh_token.reused' || name === 'login.locked'
      const fields: object = { event: name, ...event }
      log[attack ? 'warn' : 'info'](fields, `oidc ${String(name)}`)
      events.emit(name, event, log)
    },
  }

  app.decorate('oidc', createHostApi(ctx))
  if (options.ownsStore) app.addHook('onClose', async () => { await options.store.close?.() })

  await app.register(async (child) => {
    // Our own parsers, validator and error handler: the host's settings (Ajv coercion, custom
    // JSON parser, error handler) neither affect the provider nor see its errors.
    child.removeAllContentTypeParsers()
    await child.register(formbody, { bodyLimit })
    child.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (_request, body, done) => {
      try {
        done(null, sjson.parse(body as string, undefined, { protoAction: 'error', constructorAction: 'error' }))
      } catch (error) {
        done(Object.assign(error as Error, { statusCode: 400 }), undefined)
      }
    })
    child.setValidatorCompiler(({ schema }) => {
      const validator = Compile(schema as TSchema)
      return (data: unknown) => validator.Check(data)
        ? { value: data }
        : { error: Object.assign(new Error('invalid request'), { validation: validator.Errors(data) }) }
    })
    child.setErrorHandler(errorHandler)
    if (!child.hasRequestDecorator('cookies')) await child.register(fastifyCookie)
    await child.register(fastifyView, {
      engine: { eta: new Eta({ views: viewsDir, autoEscape: true, cache: true }) },
      root: viewsDir,
      propertyName: 'oidcView',
      production: true,
    })
    for (const register of routeModules) await register(child, ctx)
  }, { prefix })
}

/**
 * The OpenID Connect Provider plugin.
 *
 * @example
 * import Fastify from 'fastify'
 * import { oidcProvider } from 'fastify-oidc-provider'
 *
 * const app = Fastify({ logger: true })
 * await app.register(oidcProvider, { issuer: 'http://localhost:3000' })
 * await app.listen({ port: 3000 })
 */
export const oidcProvider = fp(oidcProviderPlugin, {
  fastify: '5.x',
  name: 'fastify-oidc-provider',
})
