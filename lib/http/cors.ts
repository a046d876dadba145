import type { FastifyInstance, FastifyReply, FastifyRequest, onSendHookHandler } from 'fastify'
import type { ClientRecord } from '../contracts/store.js'
import type { CorsEndpoint } from '../contracts/http.js'
import type { ProviderContext } from '../contracts/context.js'
import { routes } from '../contracts/urls.js'

/**
 * CORS (Fetch standard §3.2) for browser apps, on the endpoints a single-page app calls and on
 * nothing else: never on /authorize, the login, consent or logout pages, which are top-level
 * navigations and must not be readable cross-origin.
 *
 * Written here rather than with @fastify/cors: its decision runs in a request hook before the
 * handler (v11 no longer offers `onSend`), but whether an origin may read a /token, /revoke,
 * /introspect or /userinfo answer depends on the client, known only once the handler has
 * authenticated it or looked up its token. So preflights are plain OPTIONS routes and the actual
 * response gets its headers in an onSend hook of those routes only, from the client the handler recorded with
 * `allowCorsFor`.
 */

/**
 * The actual response of a public document (discovery, JWKS): read without credentials by anyone
 * (Fetch §3.2.5: `*` is only valid so). Set by those routes' handlers.
 */
export const publicCorsHeaders = { 'access-control-allow-origin': '*' } as const

/** Request headers a browser app may send (the last two for DPoP and MCP clients). */
export const corsAllowedHeaders = 'Authorization, Content-Type, DPoP, MCP-Protocol-Version'
/** Response headers the app may read besides the CORS-safelisted ones. */
export const corsExposedHeaders = 'WWW-Authenticate, DPoP-Nonce'
/** How long a preflight answer may be cached (seconds; Chromium caps it at 2 hours). */
export const corsMaxAge = 600

/**
 * Where a request records its client: a request decorator (declared in `corsRoutes`, so every
 * request of the provider's context has the member from the start) rather than a WeakMap, whose
 * insertions and ephemeron bookkeeping in the collector cost more on every API call.
 */
const kCorsClient = Symbol('fastify-oidc-provider.corsClient')
interface CorsRequest { [kCorsClient]?: ClientRecord | string | undefined }

/**
 * Records which client the request speaks for, once known: the one client authentication
 * returned, or the `client_id` of the access token presented (userinfo).
 */
export function allowCorsFor (request: FastifyRequest, client: ClientRecord | string): void {
  (request as FastifyRequest & CorsRequest)[kCorsClient] = client
}

/** The default: the origins of the client's http(s) redirect URIs (where its app runs). */
export function clientOrigins (client: ClientRecord): Set<string> {
  const origins = new Set<string>()
  for (const uri of client.redirect_uris) {
    try {
      const url = new URL(uri)
      if (url.protocol === 'https:' || url.protocol === 'http:') origins.add(url.origin)
    } catch {}
  }
  return origins
}

function appendVary (reply: FastifyReply, name: string): void {
  const current = reply.getHeader('vary')
  // Usually no Vary yet (every token and introspection response): set as is, nothing to split.
  if (current === undefined) {
    reply.header('vary', name)
    return
  }
  const values = typeof current === 'string' ? current.split(',').map((value) => value.trim()).filter((value) => value !== '') : []
  if (!values.some((value) => value.toLowerCase() === name.toLowerCase() || value === '*')) values.push(name)
  reply.header('vary', values.join(', '))
}

export async function corsRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  app.decorateRequest(kCorsClient, undefined)
  const prefix = app.prefix
  const publicPaths = new Map<string, string>([
    [routes.discovery, 'GET'],
    [routes.oauthMetadata, 'GET'],
    [routes.jwks, 'GET'],
  ].map(([path, methods]) => [prefix + path!, methods!]))
  const clientPaths = new Map<string, { endpoint: CorsEndpoint, methods: string }>([
    [routes.token, { endpoint: 'token', methods: 'POST' }],
    [routes.revoke, { endpoint: 'revoke', methods: 'POST' }],
    [routes.introspect, { endpoint: 'introspect', methods: 'POST' }],
    [routes.userinfo, { endpoint: 'userinfo', methods: 'GET, POST' }],
    ...(ctx.options.registration === false ? [] : [[routes.register, { endpoint: 'register', methods: 'POST' }] as const]),
  ].map(([path, value]) => [prefix + path, value] as [string, { endpoint: CorsEndpoint, methods: string }]))

  // Preflights (Fetch §3.2.2) carry no credentials, so they cannot name a client: any origin
  // gets the methods and headers, and the actual response decides.
  for (const [path, methods] of publicPaths) {
    app.options(path.slice(prefix.length), async (_request, reply) => {
      reply.headers({
        'access-control-allow-origin': '*',
        'access-control-allow-methods': methods,
        'access-control-allow-headers': corsAllowedHeaders,
        'access-control-max-age': String(corsMaxAge),
      })
      return await reply.code(204).send()
    })
  }
  for (const [path, { methods }] of clientPaths) {
    app.options(path.slice(prefix.length), async (request, reply) => {
      appendVary(reply, 'Origin')
      const origin = request.headers.origin
      if (typeof origin === 'string' && origin !== 'null') reply.header('access-control-allow-origin', origin)
      reply.headers({
        'access-control-allow-methods': methods,
        'access-control-allow-headers': corsAllowedHeaders,
        'access-control-max-age': String(corsMaxAge),
      })
      return await reply.code(204).send()
    })
  }

  // Attached per route (onRoute) rather than as one onSend hook of the whole provider: the
  // login, consent and logout pages and /authorize never run it, and only the client endpoints
  // pay for the decision. The public documents (discovery, JWKS) need no hook at all: their
  // handlers send `access-control-allow-origin: *` with headers built once (publicCorsHeaders).
  // A callback hook, not an async one: a server-to-server call (no `Origin`, most of the traffic)
  // is answered without a promise; only a browser's request waits for the decision.
  const clientResponse = (endpoint: CorsEndpoint): onSendHookHandler => (request, reply, payload, done) => {
    appendVary(reply, 'Origin')
    const origin = request.headers.origin
    if (typeof origin !== 'string' || origin === 'null') {
      done(null, payload)
      return
    }
    originAllowed(ctx, request, endpoint, origin).then((allowed) => {
      if (allowed) {
        reply.header('access-control-allow-origin', origin)
        reply.header('access-control-expose-headers', corsExposedHeaders)
      }
    }, (error: unknown) => {
      // A store outage while looking up the client: the answer stays unreadable, never wrong.
      request.log.warn({ err: error }, 'fastify-oidc-provider: CORS decision failed')
    }).finally(() => { done(null, payload) })
  }
  app.addHook('onRoute', (route) => {
    if ([route.method].flat().includes('OPTIONS')) return
    const path = route.url
    const endpoint = clientPaths.get(path)?.endpoint
    if (endpoint === undefined) return
    const hook = clientResponse(endpoint)
    route.onSend = [...[route.onSend ?? []].flat(), hook] as typeof route.onSend
  })
}

async function originAllowed (ctx: ProviderContext, request: FastifyRequest, endpoint: CorsEndpoint, origin: string): Promise<boolean> {
  let client: ClientRecord | undefined
  let allowedByDefault: boolean
  if (endpoint === 'register') {
    // Open registration is open to any origin; with an initial access token, to none by default.
    const policy = ctx.options.registration
    allowedByDefault = policy !== false && policy.initialAccessToken === undefined
  } else {
    const known = (request as FastifyRequest & CorsRequest)[kCorsClient]
    client = typeof known === 'string' ? await ctx.clients.find(known) : known
    allowedByDefault = client !== undefined && clientOrigins(client).has(origin)
  }
  const policy = ctx.options.cors.allowOrigin
  if (policy === undefined) return allowedByDefault
  return await policy(origin, { endpoint, ...(client === undefined ? {} : { client }), allowedByDefault }) === true
}
