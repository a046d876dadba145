import type { FastifyRequest } from 'fastify'
import type { InteractionRecord } from '../adapters/store/types.js'
import { OAuthError } from '../errors.js'
import { safeEqual } from '../crypto.js'
import type { RawParams } from './request.js'
import type { FlowDeps } from './flow.js'

const forbidden = (description: string): OAuthError => new OAuthError('access_denied', description, { statusCode: 403 })

/**
 * Loads the pending request a form belongs to and checks it was posted by the browser that
 * started it (signed browser cookie) with the CSRF token issued for it. `csrf: false` is for
 * the GET that only displays the consent page.
 */
export async function loadInteraction (deps: FlowDeps, request: FastifyRequest, params: RawParams, options: { csrf?: boolean } = {}): Promise<InteractionRecord> {
  const interactionId = params.interaction_id
  if (typeof interactionId !== 'string' || interactionId === '' || interactionId.length > 64) {
    throw new OAuthError('invalid_request', 'the sign-in request is missing or malformed')
  }
  const interaction = await deps.ctx.store.getInteraction(interactionId)
  if (interaction === undefined) {
    throw new OAuthError('invalid_request', 'this sign-in request has expired or was already completed; go back to the application and start again')
  }
  const browserId = deps.cookies.browserId(request)
  if (interaction.browserId !== undefined && (browserId === undefined || !safeEqual(interaction.browserId, browserId))) {
    throw forbidden('this sign-in request was started in another browser (or cookies are disabled)')
  }
  if (options.csrf !== false) {
    const token = params.csrf_token
    if (typeof token !== 'string' || !safeEqual(interaction.csrfToken, token)) {
      throw forbidden('the form is missing its security token or it does not match; reload the page and try again')
    }
  }
  return interaction
}

/** The consent forms require the logged-in user to be the one the interaction belongs to. */
export async function requireInteractionUser (deps: FlowDeps, request: FastifyRequest, interaction: InteractionRecord): Promise<string> {
  const sessionId = deps.cookies.sessionId(request)
  const session = sessionId === undefined ? undefined : await deps.ctx.store.getSession(sessionId)
  if (interaction.accountId === undefined || session === undefined || session.accountId !== interaction.accountId) {
    throw forbidden('this consent request belongs to another sign-in session')
  }
  return session.accountId
}
