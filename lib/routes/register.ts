import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ClientRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError, StoreUnavailableError } from '../contracts/errors.js'
import { errorHandler } from '../http/error-handler.js'
import { nowSeconds } from '../tokens/crypto.js'
import { routes } from '../contracts/urls.js'
// RFC 7591 §3.2.1, RFC 7592 §3: responses carry credentials, so nothing may cache them.
import { noStore } from '../http/forms.js'
import { acceptMetadata } from '../clients/registration/accept.js'
import { invalidToken } from '../clients/registration/bearer.js'
import { usesSecret } from '../clients/key-metadata.js'
import { clientInformation } from '../clients/registration/information.js'
import {
  authenticateManagement,
  checkInitialAccessToken,
  isCurrentClientSecret,
  newClientId,
  newClientSecret,
  newRegistrationAccessToken,
} from '../clients/registration/credentials.js'

interface ManagementRoute {
  Params: { clientId: string }
}

/** A rotation's overlap (`previous_client_secret_*`), carried through an update that keeps the secret. */
function previousSecretOf (client: ClientRecord): Partial<ClientRecord> {
  if (client.previous_client_secret_hash === undefined) return {}
  return {
    previous_client_secret_hash: client.previous_client_secret_hash,
    ...(client.previous_client_secret_expires_at === undefined ? {} : { previous_client_secret_expires_at: client.previous_client_secret_expires_at }),
  }
}

const invalidMetadata = (description: string): OAuthError => new OAuthError('invalid_client_metadata', description)

/**
 * RFC 7591 §3: the request is a JSON document. Another media type is refused before the body is
 * parsed, with 415 (RFC 9110 §15.5.16: the problem is the format, not a value) and RFC 7591's
 * own error code, which registration clients know how to read.
 */
function requireJson (request: FastifyRequest): void {
  const mediaType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase()
  if (mediaType !== 'application/json') {
    throw new OAuthError('invalid_client_metadata', 'the registration request must be sent as application/json (RFC 7591 section 3)', { statusCode: 415 })
  }
}

/**
 * The shared error handler, except that a body that does not parse (malformed JSON, `__proto__`
 * or `constructor` keys, an empty body) is reported with RFC 7591 §3.2.2's
 * `invalid_client_metadata` rather than the generic `invalid_request`.
 */
async function registrationErrorHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const unparsable = !(error instanceof OAuthError) && !(error instanceof StoreUnavailableError) &&
    (error.statusCode === 400 || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
  await errorHandler(unparsable ? invalidMetadata('the request body is not a valid JSON object') : error, request, reply)
}

/**
 * Dynamic client registration (RFC 7591, OpenID Connect Dynamic Client Registration 1.0) and
 * its management protocol (RFC 7592). Registered only when `options.registration` is set.
 */
export async function registerRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  if (ctx.options.registration === false) return
  const clientPath = `${routes.register}/:clientId`
  // Management authenticates before the body is parsed; the result travels to the handler here.
  const managed = new WeakMap<FastifyRequest, Awaited<ReturnType<typeof authenticateManagement>>>()
  const authenticate = async (request: FastifyRequest<ManagementRoute>): Promise<void> => {
    managed.set(request, await authenticateManagement(ctx, request, request.params.clientId))
  }
  const authenticated = (request: FastifyRequest): Awaited<ReturnType<typeof authenticateManagement>> => {
    const found = managed.get(request)
    if (found === undefined) throw new Error('fastify-oidc-provider: management request was not authenticated')
    return found
  }

  // RFC 7591 §3.1 (request), §3.2.1 (201 client information response), §3.2.2 (errors).
  app.post(routes.register, {
    errorHandler: registrationErrorHandler,
    onRequest: async (request) => {
      checkInitialAccessToken(ctx, request)
      requireJson(request)
    },
  }, async (request, reply) => {
    const metadata = await acceptMetadata(ctx, request.body, request)
    const secret = usesSecret(metadata.token_endpoint_auth_method) ? newClientSecret() : undefined
    const registrationAccessToken = newRegistrationAccessToken()
    const client: ClientRecord = {
      ...metadata,
      client_id: newClientId(ctx),
      ...(secret === undefined ? {} : { client_secret_hash: secret.hash }),
      registration_access_token_hash: registrationAccessToken.hash,
      client_id_issued_at: nowSeconds(),
    }
    await ctx.store.saveClient(client)
    ctx.audit('client.registered', { clientId: client.client_id, ip: request.ip })
    noStore(reply)
    reply.code(201)
    return clientInformation(ctx, client, {
      ...(secret === undefined ? {} : { clientSecret: secret.secret }),
      registrationAccessToken: registrationAccessToken.token,
    })
  })

  // RFC 7592 §2.1: read. The secret is not returned (only its hash is kept).
  app.get<ManagementRoute>(clientPath, { errorHandler: registrationErrorHandler, onRequest: authenticate }, async (request, reply) => {
    const { client, registrationAccessToken } = authenticated(request)
    noStore(reply)
    return clientInformation(ctx, client, { registrationAccessToken })
  })

  // RFC 7592 §2.2: update replaces the metadata; omitted members fall back to their defaults.
  app.put<ManagementRoute>(clientPath, {
    errorHandler: registrationErrorHandler,
    onRequest: async (request) => {
      await authenticate(request)
      requireJson(request)
    },
  }, async (request, reply) => {
    const { client, registrationAccessToken } = authenticated(request)
    const body = request.body
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw invalidMetadata('the request body must be a JSON object of client metadata')
    }
    const { client_id: clientId, client_secret: clientSecret } = body as Record<string, unknown>
    if (clientId !== client.client_id) {
      throw invalidMetadata('client_id must be present and be this client\'s identifier (RFC 7592 section 2.2)')
    }
    if (clientSecret !== undefined && clientSecret !== null &&
      (typeof clientSecret !== 'string' || !isCurrentClientSecret(client, clientSecret))) {
      throw invalidMetadata('client_secret must be the current secret; a client cannot choose its own (RFC 7592 section 2.2)')
    }
    const metadata = await acceptMetadata(ctx, body, request)
    // Becoming public drops the secret; becoming confidential issues one (RFC 7592 §2.2 lets
    // the update response carry a new secret).
    let secretHash = usesSecret(metadata.token_endpoint_auth_method) ? client.client_secret_hash : undefined
    let issuedSecret: string | undefined
    if (usesSecret(metadata.token_endpoint_auth_method) && secretHash === undefined) {
      const secret = newClientSecret()
      secretHash = secret.hash
      issuedSecret = secret.secret
    }
    const updated: ClientRecord = {
      ...metadata,
      client_id: client.client_id,
      ...(secretHash === undefined ? {} : { client_secret_hash: secretHash }),
      // An administrator's secret rotation keeps its overlap through a client's own update.
      ...(secretHash === undefined ? {} : previousSecretOf(client)),
      registration_access_token_hash: client.registration_access_token_hash,
      client_id_issued_at: client.client_id_issued_at,
    }
    // RFC 7592 §2.2: a client that no longer exists gets 401 (as an unknown one would). The
    // update is one atomic store step, so a DELETE that ran meanwhile is never undone.
    if (!await ctx.store.updateClientIfExists(updated)) throw invalidToken('the registration access token is invalid')
    ctx.audit('client.updated', { clientId: client.client_id })
    noStore(reply)
    return clientInformation(ctx, updated, {
      ...(issuedSecret === undefined ? {} : { clientSecret: issuedSecret }),
      registrationAccessToken,
    })
  })

  // RFC 7592 §2.3: delete. The client goes first (no new grants), then every grant it holds,
  // which kills its codes, refresh tokens and access tokens.
  app.delete<ManagementRoute>(clientPath, { errorHandler: registrationErrorHandler, onRequest: authenticate }, async (request, reply) => {
    const { client } = authenticated(request)
    await ctx.store.deleteClient(client.client_id)
    await ctx.store.revokeClientGrants(client.client_id)
    ctx.audit('client.deleted', { clientId: client.client_id })
    ctx.audit('grant.revoked', { clientId: client.client_id, reason: 'client_deleted' })
    noStore(reply)
    reply.code(204)
    return await reply.send()
  })
}
