import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import { routes } from '../contracts/urls.js'
import { BuiltInPages, type InteractionService } from '../interactions/service.js'
import { formBody } from '../http/forms.js'
import { browserFormGuard } from '../http/browser-form.js'

/** Our consent page (GET) and its form (POST), on the interaction API like a host's page. */
export async function consentRoutes (app: FastifyInstance, ctx: ProviderContext, interactions: InteractionService): Promise<void> {
  const pages = new BuiltInPages(interactions)
  const config = { html: true }

  app.get(routes.consent, { config }, async (request, reply) => await pages.showConsent(request, reply))

  app.post(routes.consent, { config, preValidation: browserFormGuard(ctx) }, async (request, reply) => {
    return await pages.submitConsent(formBody(request), request, reply)
  })
}
