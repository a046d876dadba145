import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ClientAdmin } from '../clients/admin.js'
import { OAuthError } from '../contracts/errors.js'
import { errorHandler } from '../http/error-handler.js'
import { noStore } from '../http/forms.js'

/** Options of `oidcAdmin`. Register it under the prefix of your choice (`{ prefix: '/admin' }`). */
export interface OidcAdminOptions {
  /** The scope every call's access token must hold (RFC 6750 `insufficient_scope` otherwise). */
  scope: string
  /** Also ask the issuer's `/introspect` on every call, so a revoked admin token stops at once. */
  introspect?: boolean
}

interface ClientRoute { Params: { clientId: string } }
interface ListRoute { Querystring: { after?: string, limit?: string, search?: string } }

/**
 * Client administration over HTTP: `GET/POST /clients`, `GET/PUT/DELETE /clients/:clientId`,
 * `POST /clients/:clientId/secret`, under the prefix the host registers it with. Every route is
 * guarded by the resource-server plugin (`oidcResourceServer`, registered by the host in this
 * context or a parent) with the admin scope: no token is 401, a token without the scope 403,
 * both with the RFC 6750 `WWW-Authenticate` challenge. Every call is audited (`admin.call`).
 *
 * @example
 * await app.register(async (admin) => {
 *   await admin.register(oidcResourceServer, { issuer, resource: `${issuer}/admin`, keys: app.oidc })
 *   await admin.register(oidcAdmin, { scope: 'oidc:admin' })
 * }, { prefix: '/admin' })
 */
export async function oidcAdmin (app: FastifyInstance, options: OidcAdminOptions): Promise<void> {
  if (typeof options?.scope !== 'string' || !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(options.scope)) {
    throw new TypeError('oidcAdmin: options.scope must be one scope value (RFC 6749 section 3.3)')
  }
  if (!app.hasDecorator('resourceServer')) {
    throw new TypeError('oidcAdmin: register oidcResourceServer (for the admin API\'s resource) before oidcAdmin, in the same context or a parent')
  }
  if (!app.hasDecorator('oidc')) throw new TypeError('oidcAdmin: register oidcProvider first (oidcAdmin uses app.oidc)')
  const clients: ClientAdmin = app.oidc.clients

  app.setErrorHandler(errorHandler)
  app.addHook('preHandler', app.resourceServer.requireToken({ scopes: [options.scope], ...(options.introspect === true ? { introspect: true } : {}) }))
  app.addHook('onSend', async (_request, reply) => { noStore(reply) })
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const claims = request.accessToken?.claims as { sub?: unknown, client_id?: unknown } | undefined
    const subject = typeof claims?.sub === 'string' ? claims.sub : typeof claims?.client_id === 'string' ? claims.client_id : undefined
    const clientId = (request.params as { clientId?: unknown } | undefined)?.clientId
    clients.auditCall({
      ...(subject === undefined ? {} : { subject }),
      method: request.method,
      route: request.routeOptions.url ?? request.url.split('?')[0] ?? '',
      ...(typeof clientId === 'string' ? { clientId } : {}),
      statusCode: reply.statusCode,
    })
  })

  app.get<ListRoute>('/clients', async (request) => {
    const { after, limit, search } = request.query
    const parsedLimit = limit === undefined ? undefined : Number(limit)
    if (parsedLimit !== undefined && !Number.isInteger(parsedLimit)) throw new OAuthError('invalid_request', 'limit must be an integer')
    return await clients.list({
      ...(typeof after === 'string' ? { after } : {}),
      ...(parsedLimit === undefined ? {} : { limit: parsedLimit }),
      ...(typeof search === 'string' ? { search } : {}),
    })
  })
  app.post('/clients', async (request, reply) => {
    reply.code(201)
    return await clients.create(request.body)
  })
  app.get<ClientRoute>('/clients/:clientId', async (request) => {
    const client = await clients.get(request.params.clientId)
    if (client === undefined) throw new OAuthError('invalid_request', 'no such client', { statusCode: 404 })
    return client
  })
  app.put<ClientRoute>('/clients/:clientId', async (request) => await clients.update(request.params.clientId, request.body))
  app.delete<ClientRoute>('/clients/:clientId', async (request, reply) => {
    await clients.delete(request.params.clientId)
    return await reply.code(204).send()
  })
  app.post<ClientRoute>('/clients/:clientId/secret', async (request) => {
    const body = (request.body ?? {}) as { overlap_seconds?: unknown }
    const overlap = body.overlap_seconds ?? 0
    if (typeof overlap !== 'number' || !Number.isInteger(overlap) || overlap < 0 || overlap > 30 * 86400) {
      throw new OAuthError('invalid_request', 'overlap_seconds must be an integer from 0 to 2592000 (30 days)')
    }
    return await clients.rotateSecret(request.params.clientId, overlap)
  })
}
