import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import { routes } from '../contracts/urls.js'
import { formBody } from '../http/forms.js'
import { handleAuthorizationRequest } from '../interactions/authorize.js'
import { BuiltInPages, type InteractionService } from '../interactions/service.js'
import type { RawParams } from '../interactions/types.js'

/**
 * `/authorize` (RFC 6749 §3.1, OIDC Core §3.1.2): GET and POST take the authorization request
 * (or a pushed one's `request_uri`, RFC 9126 §4); a POST carrying `interaction_id` is our login
 * form's submission.
 */
export async function authorizeRoutes (app: FastifyInstance, _ctx: ProviderContext, service: InteractionService): Promise<void> {
  const pages = new BuiltInPages(service)
  const config = { html: true }

  app.get(routes.authorize, { config }, async (request, reply) => {
    return await handleAuthorizationRequest(service.deps, request.query as RawParams, 'query', request, reply)
  })

  app.post(routes.authorize, { config }, async (request, reply) => {
    const body = formBody(request)
    // The login form is ours and must come from our page (the cross-site guard runs in
    // service.load); an authorization request POSTed by a relying party's own page
    // (OIDC Core §3.1.2.1) is cross-site by nature and stays allowed.
    if (body.interaction_id !== undefined) return await pages.submitLogin(body, request, reply)
    return await handleAuthorizationRequest(service.deps, body, 'form', request, reply)
  })
}
