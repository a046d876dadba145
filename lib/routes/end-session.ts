import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../context.js'
import { ProviderCookies } from '../cookies.js'
import { routes } from '../urls.js'
import { handleLogoutConfirmation, handleLogoutRequest, type LogoutDeps } from '../sessions/logout.js'
import type { LogoutParams } from '../sessions/logout-request.js'
import { formBody } from './authorize.js'

/**
 * The end_session_endpoint (OpenID Connect RP-Initiated Logout 1.0 §2): GET and POST take the
 * relying party's logout request; a POST carrying `logout_id` is the confirmation form.
 */
export async function endSessionRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  const deps: LogoutDeps = { ctx, cookies: new ProviderCookies(ctx) }
  const config = { html: true }

  app.get(routes.logout, { config }, async (request, reply) => {
    return await handleLogoutRequest(deps, request.query as LogoutParams, request, reply, 'GET')
  })

  app.post(routes.logout, { config }, async (request, reply) => {
    const body = formBody(request)
    if (body.logout_id !== undefined) return await handleLogoutConfirmation(deps, body, request, reply)
    return await handleLogoutRequest(deps, body, request, reply, 'POST')
  })
}
