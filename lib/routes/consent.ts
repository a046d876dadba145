import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../context.js'
import { OAuthError } from '../errors.js'
import { ProviderCookies } from '../cookies.js'
import { routes } from '../urls.js'
import { finish, redirectOnError, renderConsent, type FlowDeps } from '../authorize/flow.js'
import { restoreRequest, type RawParams } from '../authorize/request.js'
import { loadInteraction, requireInteractionUser } from '../authorize/interaction.js'
import { formBody } from './authorize.js'
import { browserFormGuard } from '../http/browser-form.js'

/** The consent page (GET) and its form (POST): approve records the grant and issues the code. */
export async function consentRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  const deps: FlowDeps = { ctx, cookies: new ProviderCookies(ctx) }
  const config = { html: true }

  app.get(routes.consent, { config }, async (request, reply) => {
    const interaction = await loadInteraction(deps, request, request.query as RawParams, { csrf: false })
    await requireInteractionUser(deps, request, interaction)
    const authorization = await restoreRequest(ctx, interaction.params)
    return await renderConsent(deps, reply, interaction, authorization)
  })

  app.post(routes.consent, { config, preValidation: browserFormGuard(ctx) }, async (request, reply) => {
    const body = formBody(request)
    const interaction = await loadInteraction(deps, request, body)
    const accountId = await requireInteractionUser(deps, request, interaction)
    const authorization = await restoreRequest(ctx, interaction.params)
    const decision = body.decision
    if (decision !== 'approve' && decision !== 'deny') throw new OAuthError('invalid_request', 'the consent form has no decision')
    // Taken atomically: one consent is used once, even if the form is posted twice at once.
    if (await ctx.store.consumeInteraction(interaction.interactionId) === undefined) {
      throw new OAuthError('invalid_request', 'this consent request was already answered')
    }
    try {
      if (decision === 'deny') {
        ctx.audit('consent.denied', { accountId, clientId: authorization.client.client_id })
        throw new OAuthError('access_denied', 'the user denied the request', { allowRedirect: true })
      }
      const authentication = {
        accountId,
        authTime: interaction.authTime ?? 0,
        ...(interaction.sessionId === undefined ? {} : { sessionId: interaction.sessionId }),
      }
      return await finish(deps, authorization, authentication, reply, 303, true)
    } catch (error) {
      return redirectOnError(ctx, reply, error, authorization.redirectUri, authorization.state, 303)
    }
  })
}
