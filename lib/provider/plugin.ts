import { traceStore } from './tracing.js'
import { tracingRegistered } from '../contracts/tracing.js'
import type { Store } from '../contracts/store.js'
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import formbody from '@fastify/formbody'
import fastifyCookie from '@fastify/cookie'
import sjson from 'secure-json-parse'
import { Compile } from 'typebox/compile'
import type { TSchema } from 'typebox'
import type { OidcProviderOptions } from '../contracts/options.js'
import { AlreadyRegisteredError, invalidOption } from '../contracts/errors.js'
import { KeyRing } from '../tokens/keyring.js'
import { externalBasePath } from '../contracts/urls.js'
import { loadStaticClients } from '../clients/lookup.js'
import { supportedAlgorithms } from '../tokens/algorithms.js'
import { errorHandler } from '../http/error-handler.js'
import { createHostApi, type OidcHostApi } from './host-api.js'
import { browserRouteModules, routeModules } from '../routes/index.js'
import { pathInsertedDiscoveryRoutes } from '../routes/discovery.js'
import { ResourceRegistry } from '../resources/registry.js'
import { normalizeResource } from '../contracts/resource-uri.js'
import { installPages } from '../http/pages/install.js'
import { resolveOptions } from './options.js'
import { checkStoreAtStart, createHealth, registerHealthRoutes } from './health.js'
import { buildContext } from './context.js'
import { InteractionService } from '../interactions/service.js'
import { checkHostPagePaths } from '../interactions/host-page-paths.js'

/** The store with a span per operation when a tracer provider is registered (provider/tracing.ts). */
function traced (store: Store): Store {
  return tracingRegistered() ? traceStore(store) : store
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The provider's API for host code: key rotation, grant revocation, security events. */
    oidc: OidcHostApi
  }
}

/** Bodies are small: a form or a client registration. Anything larger is refused with 413. */
const bodyLimit = 64 * 1024

const oidcProviderPlugin: FastifyPluginAsync<OidcProviderOptions> = async (app, rawOptions) => {
  // Before anything else: Fastify's own answer would come late and name only the decorator.
  if (app.hasDecorator('oidc')) throw new AlreadyRegisteredError()
  const options = resolveOptions(rawOptions, app.log)
  // Exactly as configured (a trailing slash kept): endpointUrls strips it only to append paths.
  const issuer = options.issuer
  const resources = new ResourceRegistry(options.resourceServers, options.findResourceServer, { issuer, scopes: options.scopes })
  // A declared resource's scopes are scopes of the provider (authorize, registration, discovery).
  options.scopes = [...new Set([...options.scopes, ...resources.staticScopes])]
  if (options.defaultResource !== undefined) options.defaultResource = await checkDefaultResource(resources, options.defaultResource)
  const basePath = externalBasePath(issuer)
  // Issue 26: a host page the provider's cookies do not reach fails here, not at the first login.
  checkHostPagePaths(issuer, basePath === '' ? '/' : basePath, options.interactions)
  const prefix = rawOptions.prefix ?? ''
  if (prefix !== '' && !basePath.endsWith(prefix.replace(/\/+$/, ''))) {
    app.log.warn(`fastify-oidc-provider: routes are under "${prefix}" but the issuer path is "${basePath || '/'}"; discovery URLs derive from the issuer, so make sure a proxy maps one to the other`)
  }
  const log = app.log.child({ plugin: 'fastify-oidc-provider' })
  const keys = await KeyRing.load(options.keys, { log }, issuer)
  if (options.accessTokenSigningAlg !== undefined && !keys.algorithms().includes(options.accessTokenSigningAlg)) {
    throw invalidOption('accessTokenSigningAlg', `the key source holds no ${options.accessTokenSigningAlg} key (it holds ${keys.algorithms().join(', ')})`)
  }
  // The store's own preparation (PostgresStore: migrations), before anything is served.
  await options.store.init?.()
  const staticClients = loadStaticClients(options.clients, options.scopes, supportedAlgorithms(keys, options.requestObjects), options.outbound, options.responseTypes, issuer)
  // Issue 19: only with metrics on is prom-client loaded, the store wrapped, a hook added.
  const metrics = options.metrics === undefined
    ? undefined
    : (await import('./metrics/index.js')).createMetrics(options.metrics, staticClients)
  // At once: a host registry gets its names back even when a later option fails register.
  if (metrics !== undefined) app.addHook('onClose', async () => { metrics.close() })
  const ctx = buildContext({
    issuer,
    options,
    store: traced(metrics?.instrumentStore(options.store) ?? options.store),
    keys,
    staticClients,
    resources,
    log,
  })

  const clash = resources.staticIntrospectionClientIds.find((clientId) => staticClients.has(clientId))
  if (clash !== undefined) throw invalidOption('resourceServers', `introspection clientId "${clash}" is also the client_id of a client`)

  metrics?.listen(ctx.events)
  const health = createHealth(ctx, app)
  checkStoreAtStart(ctx, app)
  // One interaction service for the host's pages (app.oidc) and ours (the browser routes).
  const interactions = new InteractionService(ctx)
  app.decorate('oidc', createHostApi(ctx, interactions, { health, ...(metrics === undefined ? {} : { metrics }) }))
  if (options.ownsStore) app.addHook('onClose', async () => { await options.store.close?.() })
  app.addHook('onClose', async () => {
    // Back-channel logouts already started finish (each is bounded by its timeout) first.
    await ctx.deliveries.settle()
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
    installPages(child, ctx.pages)
    for (const register of routeModules) await register(child, ctx)
    // Issue 19: @fastify/cookie only where cookies are used (/authorize, consent, logout). Its
    // `onSend` hook runs on every route of the context it is registered in, even with
    // `hook: false`, so in the provider's context it cost every token, userinfo, introspection,
    // discovery and JWKS request a hook call. This child inherits the parsers, validator, error
    // handler, pages and the CORS onRoute hook of `child`.
    await child.register(async (browser) => {
      // No parsing hook (`hook: false`): the routes parse the header on demand (lib/http/cookies.ts).
      if (!browser.hasRequestDecorator('cookies')) await browser.register(fastifyCookie, { hook: false })
      for (const register of browserRouteModules) await register(browser, ctx, interactions)
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

/** `defaultResource`, normalised, when it names a declared resource server (not the issuer). */
async function checkDefaultResource (resources: ResourceRegistry, value: string): Promise<string> {
  const normalized = normalizeResource(value)
  if (normalized === undefined) throw invalidOption('defaultResource', `must be an absolute URI without a fragment (RFC 8707 §2), but "${value}" is not one`)
  const known = await resources.find(normalized)
  if (known === undefined) throw invalidOption('defaultResource', `names "${value}", which is not the resource of any of \`resourceServers\` (nor found by \`findResourceServer\`)`)
  if (known.self) throw invalidOption('defaultResource', 'names the issuer itself, which is already what a request without `resource` gets; leave it out')
  return known.resource
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
