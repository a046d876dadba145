import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import { routes } from '../contracts/urls.js'
import { deviceCodeGrantType } from '../contracts/store.js'
import { OAuthError } from '../contracts/errors.js'
import { authenticateClient, type ClientAuthBody } from '../clients/authenticate.js'
import { noStore, requireFormBody, formBody } from '../http/forms.js'
import { browserFormGuard } from '../http/browser-form.js'
import { parseAuthorizationRequest } from '../interactions/authorization-request.js'
import { DeviceVerification, startDeviceAuthorization } from '../interactions/device.js'
import type { InteractionService } from '../interactions/service.js'
import type { RawParams } from '../interactions/types.js'

/** The parameters client authentication reads (RFC 6749 §2.3.1, RFC 7523 §2.2). */
const credentialParams = ['client_id', 'client_secret', 'client_assertion', 'client_assertion_type']

/**
 * The device authorization endpoint (RFC 8628 §3.1-3.2): the client authenticates as at the
 * token endpoint (public clients by client_id, §3.1), must be registered for the device grant,
 * and its request (`scope`, `resource`, `claims`, `acr_values`) is validated by the one
 * authorization-request parser. Errors are JSON (RFC 6749 §5.2), never redirects.
 */
export async function deviceAuthorizationRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  app.post(routes.deviceAuthorization, { preValidation: requireFormBody }, async (request, reply) => {
    const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as RawParams
    for (const name of credentialParams) {
      if (Array.isArray(body[name])) throw new OAuthError('invalid_request', `parameter "${name}" must appear once`)
    }
    const client = await authenticateClient(ctx, request, body as ClientAuthBody, { endpoint: 'deviceAuthorization', allowPublic: true })
    if (!client.grant_types.includes(deviceCodeGrantType)) {
      throw new OAuthError('unauthorized_client', `the client is not registered for grant_type '${deviceCodeGrantType}'`)
    }
    const parsed = await parseAuthorizationRequest(ctx, { ...body, client_id: client.client_id }, { via: 'device', client })
    if (!parsed.ok) throw parsed.error
    const response = await startDeviceAuthorization(ctx, parsed.request)
    noStore(reply)
    return response
  })
}

/**
 * The verification URI (RFC 8628 §3.3): the code entry page (GET, `user_code` prefills it
 * from `verification_uri_complete`) and its form (POST), a browser route beside login and consent.
 */
export async function deviceVerificationRoutes (app: FastifyInstance, ctx: ProviderContext, service: InteractionService): Promise<void> {
  const pages = new DeviceVerification(service.deps)
  const config = { html: true }
  app.get(routes.device, { config }, async (request, reply) => await pages.show(request, reply))
  app.post(routes.device, { config, preValidation: browserFormGuard(ctx) }, async (request, reply) => {
    return await pages.submit(formBody(request), request, reply)
  })
}
