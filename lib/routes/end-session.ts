import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import { routes } from '../contracts/urls.js'
import { handleLogoutRequest } from '../sessions/logout.js'
import type { LogoutParams } from '../sessions/logout-request.js'
import { BuiltInPages, type InteractionService } from '../interactions/service.js'
import { formBody } from '../http/forms.js'

/**
 * The end_session_endpoint (OpenID Connect RP-Initiated Logout 1.0 §2): GET and POST take the
 * relying party's logout request; a POST carrying `logout_id` is our confirmation form, one user
 * of the interaction API like a host's logout page.
 */
export async function endSessionRoutes (app: FastifyInstance, _ctx: ProviderContext, service: InteractionService): Promise<void> {
  const pages = new BuiltInPages(service)
  const config = { html: true }

  app.get(routes.logout, { config }, async (request, reply) => {
    return await handleLogoutRequest(service.logoutDeps, request.query as LogoutParams, request, reply, 'GET')
  })

  app.post(routes.logout, { config }, async (request, reply) => {
    const body = formBody(request)
    if (body.logout_id !== undefined) return await pages.submitLogout(body, request, reply)
    return await handleLogoutRequest(service.logoutDeps, body, request, reply, 'POST')
  })
}
