import type { FastifyRequest } from 'fastify'
import type { InteractionRecord } from '../contracts/store.js'
import { OAuthError } from '../contracts/errors.js'
import { nowSeconds, safeEqual } from '../tokens/crypto.js'
import { browserSession, type BrowserDeps } from '../sessions/browser.js'
import { forbidden } from './errors.js'
import type { RawParams } from './types.js'

/**
 * What an interaction asks for. Records saved before prompts were recorded (a rolling upgrade)
 * were pending logouts when their params say so, asked for consent once a user was on them,
 * else for a login.
 */
export function promptOf (record: InteractionRecord): 'login' | 'consent' | 'logout' {
  if (record.prompt !== undefined) return record.prompt
  if (record.params.kind === 'logout') return 'logout'
  return record.accountId === undefined ? 'login' : 'consent'
}

/** What the user is told an interaction is, in error messages. */
export type InteractionNoun = 'sign-in' | 'sign-out'

/** The interaction id a request names: `interaction_id` in the query, the form or the route params. */
export function interactionIdOf (request: FastifyRequest): unknown {
  const sources = [request.query, request.body, request.params] as Array<RawParams | undefined | null>
  for (const source of sources) {
    if (typeof source === 'object' && source !== null && source.interaction_id !== undefined) return source.interaction_id
  }
  return undefined
}

/**
 * Loads a pending interaction and checks the rules every page (ours or the host's) obeys:
 * it exists and has not expired, it was started by this browser (signed browser cookie), and
 * for a form post, the form carries the CSRF token issued for it.
 */
export async function loadInteraction (
  deps: BrowserDeps,
  request: FastifyRequest,
  interactionId: unknown,
  options: { csrfToken?: unknown, checkCsrf: boolean, noun?: InteractionNoun }
): Promise<InteractionRecord> {
  const asked = options.noun ?? 'sign-in'
  if (typeof interactionId !== 'string' || interactionId === '' || interactionId.length > 64) {
    throw new OAuthError('invalid_request', `the ${asked} request is missing or malformed`)
  }
  const interaction = await deps.ctx.store.getInteraction(interactionId)
  if (interaction === undefined || interaction.expiresAt <= nowSeconds()) {
    throw new OAuthError('invalid_request', `this ${asked} request has expired or was already completed; go back to the application and start again`)
  }
  const noun = promptOf(interaction) === 'logout' ? 'sign-out' : 'sign-in'
  const browserId = deps.cookies.browserId(request)
  if (interaction.browserId !== undefined && (browserId === undefined || !safeEqual(interaction.browserId, browserId))) {
    throw forbidden(`this ${noun} request was started in another browser (or cookies are disabled)`)
  }
  if (options.checkCsrf) {
    const token = options.csrfToken
    if (typeof token !== 'string' || !safeEqual(interaction.csrfToken, token)) {
      throw forbidden('the form is missing its security token or it does not match; reload the page and try again')
    }
  }
  return interaction
}

/** A consent belongs to a signed-in user: the browser's session must still be theirs. */
export async function requireInteractionUser (deps: BrowserDeps, request: FastifyRequest, interaction: InteractionRecord): Promise<string> {
  const session = await browserSession(deps, request)
  if (interaction.accountId === undefined || session === undefined || session.accountId !== interaction.accountId) {
    throw forbidden('this consent request belongs to another sign-in session')
  }
  return session.accountId
}
