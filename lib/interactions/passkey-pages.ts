import type { FastifyReply, FastifyRequest } from 'fastify'
import { Signer } from '@fastify/cookie'
import type { InteractionRecord } from '../contracts/store.js'
import { OAuthError } from '../contracts/errors.js'
import { passkeyScriptSource, passkeyUrls } from './passkey-urls.js'
import { renderPage } from '../http/pages/render.js'
import { nowSeconds } from '../tokens/crypto.js'
import { publicClient } from '../tokens/claims-hook.js'
import { promptOf } from './binding.js'
import { formTargets, renderLogin } from './builtin-pages.js'
import { PasskeyCeremonyError, type PasskeyCeremonies } from './passkeys.js'
import { restoreRequest } from './stored-request.js'
import { describeInteraction } from './view.js'
import type { FlowDeps, RawParams } from './types.js'
import type { ProviderContext } from '../contracts/context.js'
import type { InteractionResult } from '../contracts/interactions.js'

/** What the passkey pages use of the interaction service (lib/interactions/service.ts implements it). */
export interface InteractionSteps {
  readonly ctx: ProviderContext
  readonly deps: FlowDeps
  load (request: FastifyRequest, interactionId?: unknown, options?: { form?: boolean }): Promise<InteractionRecord>
  finishLoaded (record: InteractionRecord, result: InteractionResult, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply>
}

/** The message key of each failure on our pages (en/de/fr catalogs). */
const failureMessages = {
  expired: 'passkey.expired',
  replayed: 'passkey.expired',
  unknown_credential: 'passkey.unknown',
  invalid: 'passkey.invalid',
  locked: 'passkey.locked',
  malformed: 'passkey.invalid',
} as const

/** What the enrolment offer carries between the password check and the user's answer. */
interface EnrolmentTicket { i: string, a: string, b: string, e: number }

/**
 * Passkeys on our own pages, through the same ceremonies (`app.oidc.passkeys`) and the same
 * `finishInteraction` a host's page uses:
 * - sign-in: the login page asks for options bound to its interaction, the browser signs, the
 *   form posts the response, a verified one finishes the interaction as `{ login }`;
 * - enrolment: after a password sign-in, a user without a passkey is offered one before the
 *   flow goes on. The password's result waits in a signed ticket (interaction, account,
 *   browser, expiry) carried by the offer's form, and either answer finishes the interaction
 *   with that login: a passkey added, or "not now".
 */
export class PasskeyPages {
  readonly #signer: Signer

  constructor (private readonly service: InteractionSteps, private readonly ceremonies: PasskeyCeremonies) {
    this.#signer = new Signer([service.ctx.options.cookieSecret ?? ''].flat())
  }

  /** POST login-options: options for the interaction's login page (any discoverable passkey). */
  async loginOptions (request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const record = await this.service.load(request, undefined, { form: true })
    if (promptOf(record) !== 'login') throw new OAuthError('invalid_request', 'this request does not ask for a sign-in')
    reply.header('cache-control', 'no-store')
    return await this.ceremonies.authenticationOptions(reply)
  }

  /** POST login: the signed response; verified, it finishes the interaction as a passkey login. */
  async submitLogin (body: RawParams, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const record = await this.service.load(request, undefined, { form: true })
    if (promptOf(record) !== 'login') throw new OAuthError('invalid_request', 'this request does not ask for a sign-in')
    try {
      const login = await this.ceremonies.verifyAuthentication(request, { response: body.response })
      return await this.service.finishLoaded(record, { login: { accountId: login.accountId, amr: login.amr, acr: login.acr } }, request, reply)
    } catch (error) {
      if (!(error instanceof PasskeyCeremonyError)) throw error
      const authorization = await restoreRequest(this.service.ctx, record.params)
      const catalogs = reply.oidcPages.catalogs
      const locale = (await describeInteraction(this.service.ctx, record, request)).interaction.locale
      if (error.headers['retry-after'] !== undefined) reply.header('retry-after', error.headers['retry-after'])
      return await renderLogin(this.service.deps, reply, record, authorization, request, {
        status: error.statusCode,
        error: catalogs.t(locale, failureMessages[error.reason]),
      })
    }
  }

  /** Whether a password sign-in should be followed by the offer (on, and the user has no passkey yet). */
  async shouldOffer (accountId: string): Promise<boolean> {
    return this.ceremonies.offerEnrolment && (await this.ceremonies.store.listPasskeys(accountId)).length === 0
  }

  /** The offer: "Add a passkey" or "Not now"; either finishes the sign-in the password began. */
  async renderOffer (record: InteractionRecord, accountId: string, request: FastifyRequest, reply: FastifyReply, error?: string): Promise<FastifyReply> {
    const { ctx } = this.service
    const authorization = await restoreRequest(ctx, record.params)
    const { interaction } = await describeInteraction(ctx, record, request)
    const browserId = this.service.deps.cookies.browserId(request) ?? ''
    const ticket: EnrolmentTicket = { i: record.interactionId, a: accountId, b: browserId, e: record.expiresAt }
    reply.code(error === undefined ? 200 : 400)
    return await renderPage(reply, 'passkey-offer', {
      locale: interaction.locale,
      title: reply.oidcPages.catalogs.t(interaction.locale, 'passkey.offer.title'),
      clientName: authorization.client.client_name ?? publicClient(authorization.client).clientIdHost ?? authorization.client.client_id,
      passkeys: passkeyUrls(ctx.basePath),
      interactionId: record.interactionId,
      csrfToken: record.csrfToken,
      ticket: this.#signer.sign(Buffer.from(JSON.stringify(ticket)).toString('base64url')),
      error,
    }, formTargets(authorization), passkeyScriptSource(ctx.issuer, ctx.basePath))
  }

  /** POST enrol-options: registration options for the account the ticket names. */
  async enrolOptions (body: RawParams, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const record = await this.service.load(request, undefined, { form: true })
    const accountId = this.#ticketAccount(body.ticket, record, request)
    const claims = await this.service.ctx.users.claims(accountId, new Set(['profile', 'email']))
    const userName = stringClaim(claims?.email) ?? stringClaim(claims?.preferred_username) ?? accountId
    reply.header('cache-control', 'no-store')
    return await this.ceremonies.registrationOptions(reply, { accountId, userName, displayName: stringClaim(claims?.name) ?? userName })
  }

  /** POST enrol: a new passkey (when the user made one), then the sign-in goes on. */
  async submitEnrol (body: RawParams, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const record = await this.service.load(request, undefined, { form: true })
    const accountId = this.#ticketAccount(body.ticket, record, request)
    if (typeof body.response === 'string' && body.response !== '') {
      try {
        await this.ceremonies.verifyRegistration(request, { accountId, response: body.response, ...(typeof body.name === 'string' ? { name: body.name } : {}) })
      } catch (error) {
        if (!(error instanceof PasskeyCeremonyError)) throw error
        const locale = (await describeInteraction(this.service.ctx, record, request)).interaction.locale
        return await this.renderOffer(record, accountId, request, reply, reply.oidcPages.catalogs.t(locale, failureMessages[error.reason]))
      }
    }
    return await this.service.finishLoaded(record, { login: { accountId, amr: ['pwd'] } }, request, reply)
  }

  /** The account a valid ticket names: signed by us, for this interaction and this browser, not expired. */
  #ticketAccount (raw: unknown, record: InteractionRecord, request: FastifyRequest): string {
    const unsigned = typeof raw === 'string' && raw.length <= 1024 ? this.#signer.unsign(raw) : undefined
    let ticket: EnrolmentTicket | undefined
    try {
      ticket = unsigned?.valid === true && unsigned.value !== null ? JSON.parse(Buffer.from(unsigned.value, 'base64url').toString()) as EnrolmentTicket : undefined
    } catch {}
    if (ticket === undefined || ticket.i !== record.interactionId || ticket.b !== (this.service.deps.cookies.browserId(request) ?? '') || !(ticket.e > nowSeconds())) {
      throw new OAuthError('invalid_request', 'the passkey offer has expired; sign in again')
    }
    return ticket.a
  }
}

function stringClaim (value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}
