import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { normalizeResource } from '../contracts/resource-uri.js'
import { validateResourceServerOptions, ResourceServerOptionError, type OidcResourceServerOptions } from './options.js'
import { BearerChallengeError, bearerChallenge, dpopChallenge, presentedToken, type BearerErrorCode, type TokenScheme } from './challenge.js'
import { dpopAlgorithms, DpopProofError } from '../tokens/dpop-proof.js'
import { checkResourceProof, ProofReplayCache, requestUrl } from './dpop.js'
import { verifyJwtAccessToken, type AccessTokenPayload, type VerifyOptions } from './verify.js'
import { keyResolver } from './keys.js'
import { IssuerDiscovery } from './upstream.js'
import { IntrospectionClient } from './introspection.js'
import { metadataPath, metadataUrl, protectedResourceMetadata, wellKnownProtectedResource } from './metadata.js'

/** What a route requires of the request's access token. */
export interface TokenRequirement {
  /** Every one of these scopes must be granted (403 `insufficient_scope` otherwise). */
  scopes?: string[]
  /** Also ask the issuer's `/introspect`, so a revoked token is refused at once. */
  introspect?: boolean
}

/** The verified token, on `request.accessToken` once a guard let the request through. */
export interface VerifiedAccessToken {
  /** The raw token (to call other APIs on the user's behalf). */
  token: string
  claims: AccessTokenPayload
  /** The token's scopes. */
  scopes: ReadonlySet<string>
  /** Whether the issuer confirmed it active just now (or within the introspection cache). */
  introspected: boolean
  /** The key a DPoP-bound token was proven with (RFC 9449 §7); undefined for a Bearer token. */
  dpop: { readonly jkt: string } | undefined
}

/** `app.resourceServer`: guards and the values challenges use. */
export interface ResourceServerApi {
  /** This API's normalised resource identifier. */
  readonly resource: string
  /** The RFC 9728 metadata URL sent as `resource_metadata`. */
  readonly metadataUrl: string
  /**
   * A preHandler that requires a valid token (and scopes): it answers 400/401/403/503 with the
   * RFC 6750 challenge itself, or sets `request.accessToken` and lets the route run.
   */
  requireToken (requirement?: TokenRequirement): preHandlerAsyncHookHandler
  /**
   * Verifies the request's token, in the style of @fastify/jwt's `request.jwtVerify()`. Throws a
   * `BearerChallengeError` (with `statusCode` and `headers`) the caller may reply with.
   */
  verifyRequest (request: FastifyRequest, requirement?: TokenRequirement): Promise<VerifiedAccessToken>
}

declare module 'fastify' {
  interface FastifyInstance {
    resourceServer: ResourceServerApi
  }
  interface FastifyRequest {
    /** The verified access token; null until a resource-server guard ran. */
    accessToken: VerifiedAccessToken | null
  }
  interface FastifyContextConfig {
    /** Route config alternative to `preHandler: app.resourceServer.requireToken(...)`. */
    accessToken?: TokenRequirement | true
  }
}

const resourceServerPlugin: FastifyPluginAsync<OidcResourceServerOptions> = async (app, rawOptions) => {
  const options = validateResourceServerOptions(rawOptions)
  const normalized = normalizeResource(options.resource)
  if (normalized === undefined) throw new ResourceServerOptionError('resource', 'must be an absolute URI without a fragment (RFC 8707 §2)')
  const resource: string = normalized
  if (app.hasDecorator('resourceServer')) throw new ResourceServerOptionError('resource', 'another oidcResourceServer is registered in this context; register each in its own encapsulated context')
  const discovery = new IssuerDiscovery(options.issuer, options.jwks.timeout)
  const verifyOptions: VerifyOptions = {
    issuer: options.issuer,
    audience: [...new Set([resource, options.resource])],
    algorithms: options.algorithms,
    clockTolerance: options.clockTolerance,
    getKey: keyResolver(options, rawOptions.keys, discovery),
  }
  const introspection = options.introspection === undefined ? undefined : new IntrospectionClient(options.introspection, discovery, options.jwks.timeout)
  const resourceMetadata = metadataUrl(resource)

  const dpop = options.dpop
  const replay = new ProofReplayCache()
  const markUsed = rawOptions.dpop?.markUsed ?? (async (key: string, expiresAt: number) => await replay.markUsed(key, expiresAt))

  /**
   * The challenge in the scheme the token came with; without a token (`scheme` undefined),
   * one challenge per scheme accepted (RFC 9110 §11.6.1: a list in one header). With
   * `dpop.required` only DPoP, whatever was sent (RFC 9449 §7.1): a DPoP-only resource never
   * offers Bearer. Each challenge carries its own `scope` and `resource_metadata`: auth-params
   * belong to their challenge (RFC 9110 §11.6.1), and RFC 6750 §3, RFC 9449 §7.1 and RFC 9728
   * §5.1 allow both in either scheme, so a client that picks one scheme still finds them.
   */
  const refuse = (status: number, error: BearerErrorCode | undefined, description: string | undefined, scope?: readonly string[], scheme?: TokenScheme): BearerChallengeError => {
    const params = {
      ...(error === undefined ? {} : { error }),
      ...(description === undefined ? {} : { description }),
      ...(scope === undefined ? {} : { scope }),
      resourceMetadata,
    }
    const schemes: TokenScheme[] = dpop.required ? ['DPoP'] : scheme !== undefined ? [scheme] : ['Bearer', 'DPoP']
    const challenges = schemes.map((name) => name === 'DPoP' ? dpopChallenge(params, dpopAlgorithms) : bearerChallenge(params))
    return new BearerChallengeError(status, error, description, { 'www-authenticate': challenges.join(', ') })
  }
  const unavailable = (request: FastifyRequest, cause: unknown): BearerChallengeError => {
    request.log.warn({ err: cause }, 'oidc resource server: the authorization server could not be reached')
    return new BearerChallengeError(503, 'temporarily_unavailable', 'the authorization server is unavailable; retry later', { 'retry-after': '5' })
  }

  async function verifyRequest (request: FastifyRequest, requirement: TokenRequirement = {}): Promise<VerifiedAccessToken> {
    const required = requirement.scopes ?? []
    const presented = presentedToken(request)
    // RFC 6750 §3.1: without credentials, a challenge without an error code.
    if (presented.kind === 'none') throw refuse(401, undefined, undefined, required)
    if (presented.kind === 'malformed') throw refuse(400, 'invalid_request', presented.description, required, presented.scheme)
    const { scheme } = presented
    const result = await verifyJwtAccessToken(presented.token, verifyOptions)
    if (!result.ok) {
      if (result.failure.kind === 'unavailable') throw unavailable(request, result.failure.cause)
      throw refuse(401, 'invalid_token', result.failure.description, required, scheme)
    }
    const { claims } = result
    const proven = await senderConstraint(request, presented.token, claims, scheme, required)
    let introspected = false
    if (requirement.introspect === true) {
      if (introspection === undefined) throw unavailable(request, new Error('introspect: true needs the introspection option'))
      let answer
      try {
        answer = await introspection.introspect(presented.token)
      } catch (error) {
        throw unavailable(request, error)
      }
      const audiences = [answer.aud ?? []].flat()
      if (!answer.active || (answer.aud !== undefined && !audiences.includes(resource))) {
        throw refuse(401, 'invalid_token', 'the access token was revoked', required, scheme)
      }
      introspected = true
    }
    const scopes = new Set((claims.scope ?? '').split(' ').filter((value) => value !== ''))
    const missing = required.filter((scope) => !scopes.has(scope))
    // RFC 6750 §3.1: 403 with the scope the request needs.
    if (missing.length > 0) throw refuse(403, 'insufficient_scope', `the access token lacks the scope ${missing.join(' ')}`, required, scheme)
    const verified: VerifiedAccessToken = { token: presented.token, claims, scopes, introspected, dpop: proven }
    request.accessToken = verified
    return verified
  }

  /**
   * RFC 9449 §7.1: a DPoP-bound token (`cnf.jkt`) only with the DPoP scheme and a valid proof of
   * its key; a bound token sent as Bearer is refused (401 `invalid_token`), and so is the DPoP
   * scheme with an unbound token. With `dpop.required`, Bearer tokens are refused altogether.
   */
  async function senderConstraint (request: FastifyRequest, token: string, claims: AccessTokenPayload, scheme: TokenScheme, required: readonly string[]): Promise<{ jkt: string } | undefined> {
    const jkt = claims.cnf?.jkt
    if (scheme === 'Bearer') {
      if (jkt !== undefined) throw refuse(401, 'invalid_token', 'this access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof', required, 'DPoP')
      if (dpop.required) throw refuse(401, 'invalid_token', 'this resource accepts only DPoP-bound access tokens', required, 'DPoP')
      return undefined
    }
    if (jkt === undefined) throw refuse(401, 'invalid_token', 'this access token is not DPoP-bound: send it with the Bearer scheme', required, 'DPoP')
    try {
      await checkResourceProof(request, { token, jkt, url: requestUrl(request, dpop.baseUrl), markUsed, maxAgeSeconds: dpop.proofMaxAge, algorithms: dpopAlgorithms })
    } catch (error) {
      if (error instanceof DpopProofError) throw refuse(401, 'invalid_dpop_proof', error.description, required, 'DPoP')
      // Only the host's shared replay store can fail here: the proof may be fine, so 503.
      throw unavailable(request, error)
    }
    return { jkt }
  }

  function requireToken (requirement: TokenRequirement = {}): preHandlerAsyncHookHandler {
    if (requirement.introspect === true && introspection === undefined) {
      throw new ResourceServerOptionError('introspection', 'is required by a route with introspect: true')
    }
    return async function requireAccessToken (request: FastifyRequest, reply: FastifyReply): Promise<void> {
      try {
        await verifyRequest(request, requirement)
      } catch (error) {
        if (!(error instanceof BearerChallengeError)) throw error
        await reply.code(error.statusCode).headers({ ...error.headers, 'cache-control': 'no-store' }).send(error.toJSON())
      }
    }
  }

  app.decorateRequest('accessToken', null)
  app.decorate('resourceServer', { resource, metadataUrl: resourceMetadata, requireToken, verifyRequest } satisfies ResourceServerApi)

  // Route config: `{ config: { accessToken: { scopes: ['notes:read'] } } }`.
  app.addHook('onRoute', (route) => {
    const requirement = route.config?.accessToken
    if (requirement === undefined) return
    const guard = requireToken(requirement === true ? {} : requirement)
    const existing = route.preHandler === undefined ? [] : [route.preHandler].flat()
    route.preHandler = [guard, ...existing]
  })

  if (options.metadata) registerMetadata(app, resource, options)
}

/** RFC 9728 §3: the metadata document, at the path-suffixed location and at the root one. */
function registerMetadata (app: FastifyInstance, resource: string, options: ReturnType<typeof validateResourceServerOptions>): void {
  const body = JSON.stringify(protectedResourceMetadata({
    resource,
    issuer: options.issuer,
    scopes: options.scopes,
    ...(options.resourceName === undefined ? {} : { name: options.resourceName }),
    ...(options.dpop.required ? { dpopRequiredAlgorithms: dpopAlgorithms } : {}),
  }))
  const paths = [...new Set([metadataPath(resource), wellKnownProtectedResource])]
  for (const url of paths) {
    // A public document any web client may read (RFC 9728 §3: clients fetch it from browsers too).
    app.get(url, async (_request, reply) => {
      reply.header('access-control-allow-origin', '*')
      reply.header('cache-control', 'public, max-age=300')
      reply.type('application/json; charset=utf-8')
      return body
    })
    app.options(url, async (_request, reply) => {
      reply.code(204)
      reply.header('access-control-allow-origin', '*')
      reply.header('access-control-allow-methods', 'GET')
      reply.header('access-control-max-age', '86400')
      return await reply.send()
    })
  }
}

/**
 * Protects a Fastify app's routes with the access tokens of an OpenID Provider (RFC 9068 JWTs):
 * signature, `typ`, `iss`, `aud`, lifetime, scopes, optional introspection, RFC 6750 challenges
 * and RFC 9728 metadata.
 *
 * @example
 * import { oidcResourceServer } from 'fastify-oidc-provider/resource-server'
 *
 * await api.register(oidcResourceServer, { resource: 'https://api.example.com/', issuer: 'https://id.example.com', scopes: ['notes:read'] })
 * api.get('/notes', { preHandler: api.resourceServer.requireToken({ scopes: ['notes:read'] }) }, async (request) => {
 *   return await notesOf(request.accessToken!.claims.sub)
 * })
 */
export const oidcResourceServer = fp(resourceServerPlugin, {
  fastify: '5.x',
  name: 'fastify-oidc-provider-resource-server',
})
