import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import { accountRoutes } from '../contracts/urls.js'
import { formBody } from '../http/forms.js'
import { browserFormGuard } from '../http/browser-form.js'
import type { InteractionService } from '../interactions/service.js'
import { showAccountPage, submitEndSession, submitRevokeApp } from '../sessions/account-page.js'

/**
 * The account page (only with the `accountPage` option): the page and its two forms. Each POST
 * passes the cross-site form guard before anything is read, then the session-bound CSRF check.
 */
export async function accountRoutesModule (app: FastifyInstance, ctx: ProviderContext, service: InteractionService): Promise<void> {
  if (!ctx.options.accountPage) return
  const deps = { ctx, cookies: service.deps.cookies }
  const config = { html: true }
  const preValidation = browserFormGuard(ctx)

  app.get(accountRoutes.page, { config }, async (request, reply) => await showAccountPage(deps, request, reply))
  app.post(accountRoutes.revokeApp, { config, preValidation }, async (request, reply) => await submitRevokeApp(deps, formBody(request), request, reply))
  app.post(accountRoutes.endSession, { config, preValidation }, async (request, reply) => await submitEndSession(deps, formBody(request), request, reply))
}
