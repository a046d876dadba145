import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { randomBytes } from 'node:crypto'
import formbody from '@fastify/formbody'
import fastifyCookie from '@fastify/cookie'
import sjson from 'secure-json-parse'
import { Compile } from 'typebox/compile'
import type { TSchema } from 'typebox'
import type { OidcProviderOptions, ResolvedOptions } from '../contracts/options.js'
import { validateOptionsData } from '../contracts/options.js'
import { storeMethods, type Store } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { MemoryStore } from '../adapters/store/memory.js'
import { generatedKeys } from '../adapters/keys/generated.js'
import { InvalidOptionError } from '../contracts/errors.js'
import { KeyRing } from '../tokens/keyring.js'
import { endpointUrls, externalBasePath } from '../contracts/urls.js'
import { loadStaticClients } from '../clients/lookup.js'
import { supportedAlgorithms } from '../tokens/algorithms.js'
import { SecurityEventEmitter } from '../contracts/events.js'
import { errorHandler } from '../http/error-handler.js'
import { createHostApi, type OidcHostApi } from './host-api.js'
import { browserRouteModules, routeModules } from '../routes/index.js'
import { pathInsertedDiscoveryRoutes } from '../routes/discovery.js'
import { ResourceRegistry } from '../resources/registry.js'
import { createFetcher } from '../http/fetch.js'
import { settleDeliveries } from '../sessions/backchannel.js'
import { installPages, pagesOf } from '../http/pages/install.js'
import { clientDocumentsOf } from '../clients/metadata-document.js'
import { resolveExperienceOptions } from './experience-options.js'
import { resolveMetricsOptions } from '../contracts/metrics.js'
import { createHealth, registerHealthRoutes } from './health.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The provider's API for host code: key rotation, grant revocation, security events. */
    oidc: OidcHostApi
  }
}

/** Bodies are small: a form or a client registration. Anything larger is refused with 413. */
const bodyLimit = 64 * 1024

const noUsers = {
  async authenticate (): Promise<string | null> { return null },
  async claims (): Promise<null> { return null },
}

/** Checks the adapters in code (the schema only covers plain data) and applies defaults. */
function resolveOptions (options: OidcProviderOptions, app: FastifyInstance): ResolvedOptions {
  const data = validateOptionsData(options)
  if (options.store !== undefined) {
    for (const [method, presence] of Object.entries(storeMethods)) {
      const value: unknown = options.store[method as keyof Store]
      if (presence === 'required' && typeof value !== 'function') throw new InvalidOptionError('store', `must implement the Store contract (missing ${method}())`)
      // An optional method may be absent (stores written before it), but not something else.
      if (value !== undefined && typeof value !== 'function') throw new InvalidOptionError('store', `must implement the Store contract (${method} is not a function)`)
    }
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
  if (options.findResourceServer !== undefined && typeof options.findResourceServer !== 'function') {
    throw new InvalidOptionError('findResourceServer', 'must be a function')
  }
  const cors = options.cors ?? {}
  if (typeof cors !== 'object' || cors === null || (cors.allowOrigin !== undefined && typeof cors.allowOrigin !== 'function')) {
    throw new InvalidOptionError('cors.allowOrigin', 'must be a function (origin, context) => boolean')
  }
  const documents = options.clientIdMetadataDocuments
  const clientDocumentPolicy = typeof documents === 'object' && documents !== null ? documents.allow : undefined
  if (clientDocumentPolicy !== undefined && typeof clientDocumentPolicy !== 'function') {
    throw new InvalidOptionError('clientIdMetadataDocuments.allow', 'must be a function (url) => boolean')
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
    ...resolveExperienceOptions(options),
    cookieSecret,
    store: options.store ?? new MemoryStore(),
    ownsStore: options.store === undefined,
    keys: options.keys ?? generatedKeys(),
    users: options.users ?? noUsers,
    registration,
    ...(options.findResourceServer === undefined ? {} : { findResourceServer: options.findResourceServer }),
    cors,
    ...(clientDocumentPolicy === undefined ? {} : { clientDocumentPolicy }),
    generatedCookieSecret,
    metrics: resolveMetricsOptions(options.metrics),
  }
}

const oidcProviderPlugin: FastifyPluginAsync<OidcProviderOptions> = async (app, rawOptions) => {
  const options = resolveOptions(rawOptions, app)
  const issuer = options.issuer.replace(/\/+$/, '')
  const resources = new ResourceRegistry(options.resourceServers, options.findResourceServer, { issuer, scopes: options.scopes })
  // A declared resource's scopes are scopes of the provider (authorize, registration, discovery).
  options.scopes = [...new Set([...options.scopes, ...resources.staticScopes])]
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
  const staticClients = loadStaticClients(options.clients, options.scopes, supportedAlgorithms(keys), issuer)
  // Issue 19: only with metrics on is prom-client loaded, the store wrapped, a hook added.
  const metrics = options.metrics === undefined
    ? undefined
    : (await import('./metrics/index.js')).createMetrics(options.metrics, staticClients)
  // At once: a host registry gets its names back even when a later option fails register.
  if (metrics !== undefined) app.addHook('onClose', async () => { metrics.close() })
  const ctx: ProviderContext = {
    issuer,
    urls: endpointUrls(issuer),
    basePath,
    options,
    store: metrics?.instrumentStore(options.store) ?? options.store,
    users: options.users,
    keys,
    staticClients,
    events,
    resources,
    log,
    fetcher: createFetcher({ allowLoopback: options.outbound.allowLoopback, allowHttpLoopback: options.outbound.allowHttpLoopback, ...(options.outbound.ca === undefined ? {} : { ca: options.outbound.ca }), log }),
    audit (name, event) {
      const attack = name === 'code.replayed' || name === 'refresh_token.reused' || name === 'login.locked' ||
        name === 'form.cross_site'
      const fields: object = { event: name, ...event }
      log[attack ? 'warn' : 'info'](fields, `oidc ${String(name)}`)
      events.emit(name, event, log)
    },
  }

  const clash = resources.staticIntrospectionClientIds.find((clientId) => ctx.staticClients.has(clientId))
  if (clash !== undefined) throw new InvalidOptionError('resourceServers', `introspection clientId "${clash}" is also the client_id of a client`)

  pagesOf(ctx) // a bad `pages` option (brand, template file, catalog) fails register here
  clientDocumentsOf(ctx) // bad clientIdMetadataDocuments bounds fail register here
  metrics?.listen(events)
  const health = createHealth(ctx, app)
  app.decorate('oidc', createHostApi(ctx, { health, ...(metrics === undefined ? {} : { metrics }) }))
  if (options.ownsStore) app.addHook('onClose', async () => { await options.store.close?.() })
  app.addHook('onClose', async () => {
    // Back-channel logouts already started finish (each is bounded by its timeout) first.
    await settleDeliveries(ctx)
    await ctx.fetcher.close()
  })

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
    if (metrics !== undefined) child.addHook('onResponse', metrics.onResponse)
    installPages(child, ctx)
    for (const register of routeModules) await register(child, ctx)
    // Issue 19: @fastify/cookie only where cookies are used (/authorize, consent, logout). Its
    // `onSend` hook runs on every route of the context it is registered in, even with
    // `hook: false`, so in the provider's context it cost every token, userinfo, introspection,
    // discovery and JWKS request a hook call. This child inherits the parsers, validator, error
    // handler, pages and the CORS onRoute hook of `child`.
    await child.register(async (browser) => {
      // No parsing hook (`hook: false`): the routes parse the header on demand (lib/cookies.ts).
      if (!browser.hasRequestDecorator('cookies')) await browser.register(fastifyCookie, { hook: false })
      for (const register of browserRouteModules) await register(browser, ctx)
    })
  }, { prefix })

  // Operations routes (issue 19), only where the host asked: beside the provider's routes, not
  // among them, so they are not timed as traffic nor given the provider's CORS or parsers.
  const healthRoute = options.health.route
  const metricsRoute = metrics?.route ?? false
  if (healthRoute !== undefined || metricsRoute !== false) {
    await app.register(async (operations) => {
      if (healthRoute !== undefined) registerHealthRoutes(operations, health, healthRoute)
      if (metrics !== undefined && metricsRoute !== false) {
        operations.get(metricsRoute, async (_request, reply) => {
          reply.type(metrics.registry.contentType).header('cache-control', 'no-store')
          return await metrics.registry.metrics()
        })
      }
    }, { prefix })
  }

  // RFC 8414 §3.1: an issuer with a path also answers at the host's root, where MCP clients
  // (and other RFC 8414 clients) look first. Registered by the plugin itself, since it already
  // decorates the host's context; a prefixed host context cannot reach the root, so it warns.
  if (basePath !== '') {
    if (app.prefix === '') {
      await app.register(async (root) => { await pathInsertedDiscoveryRoutes(root, ctx) })
    } else {
      app.log.warn(`fastify-oidc-provider: registered inside the prefixed context "${app.prefix}", so the path-inserted metadata (/.well-known/oauth-authorization-server${basePath}) cannot be served at the host's root; register the provider in the root context (with the \`prefix\` option) to serve it`)
    }
  }
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
