import type { FastifyReply, FastifyRequest } from 'fastify'
import type { InteractionRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { ProviderCookies } from '../http/cookies.js'
import { hostMistake, OAuthError } from '../contracts/errors.js'
import { refuseCrossSiteForm } from '../http/browser-form.js'
import { FailureCounter, loginFailureKind } from '../http/failure-counters.js'
import { pageLocale } from '../http/pages/locale.js'
import { routes } from '../contracts/urls.js'
import { interactionIdOf, loadInteraction, promptOf, requireInteractionUser, type InteractionNoun } from './binding.js'
import { finishInteraction } from './finish.js'
import { renderConsent, renderLogin, renderLogout } from './builtin-pages.js'
import { describeInteraction, toInteraction } from './view.js'
import { restoreRequest } from './stored-request.js'
import type { AuthorizationRequest, FlowDeps, RawParams } from './types.js'
import type { Interaction, InteractionResult, LogoutInteraction, PasswordCheck } from '../contracts/interactions.js'
import type { LogoutDeps } from '../sessions/logout.js'
import { describeLogoutInteraction, finishLogout } from '../sessions/logout-interaction.js'
import { PasskeyCeremonies } from './passkeys.js'
import { PasskeyPages } from './passkey-pages.js'

/**
 * The interaction API, one per provider (the plugin makes it once and hands it to app.oidc and
 * to the browser routes): what `app.oidc.getInteraction`,
 * `getLogoutInteraction`, `finishInteraction` and `checkPassword` call, and what our own login,
 * consent and logout pages call. The rules (browser binding, expiry, single use, CSRF,
 * cross-site refusal, brute-force limits) live here, in finish.ts and in
 * lib/sessions/logout-interaction.ts, so a host's page and ours obey the same ones.
 */
export class InteractionService {
  readonly deps: FlowDeps
  /** What the end_session_endpoint needs: the same cookies, and how a pending logout is shown. */
  readonly logoutDeps: LogoutDeps
  /** The passkey ceremonies (`passkeys` option), for app.oidc.passkeys and our pages; undefined when off. */
  readonly passkeys: PasskeyCeremonies | undefined

  constructor (readonly ctx: ProviderContext) {
    const cookies = new ProviderCookies(ctx)
    const loginFailures = new FailureCounter(ctx, loginFailureKind)
    this.passkeys = ctx.options.passkeys === undefined ? undefined : new PasskeyCeremonies(ctx, cookies, loginFailures, ctx.options.passkeys)
    this.deps = {
      ctx,
      cookies,
      loginFailures,
      present: async (record, authorization, request, reply, status) => await this.#present(record, authorization, request, reply, status),
    }
    this.logoutDeps = {
      ctx,
      cookies,
      presentLogout: async (record, request, reply, status) => await this.#presentLogout(record, request, reply, status),
    }
  }

  /** Shows a pending logout: a redirect to the host's page (`interactions.logoutUrl`), or our own. */
  async #presentLogout (record: InteractionRecord, request: FastifyRequest, reply: FastifyReply, status: 302 | 303): Promise<FastifyReply> {
    reply.header('cache-control', 'no-store')
    const interaction = await describeLogoutInteraction(this.deps, record, request)
    const hostUrl = this.ctx.options.interactions?.logoutUrl
    if (hostUrl !== undefined) return reply.redirect(hostUrl(interaction), status)
    return await renderLogout(this.deps, reply, interaction)
  }

  /** Shows a pending interaction: a redirect to the host's page, or our own page. */
  async #present (record: InteractionRecord, authorization: AuthorizationRequest, request: FastifyRequest, reply: FastifyReply, status: 302 | 303): Promise<FastifyReply> {
    reply.header('cache-control', 'no-store')
    const hostUrl = this.ctx.options.interactions?.url
    if (hostUrl !== undefined) {
      return reply.redirect(hostUrl(toInteraction(this.ctx, record, authorization, request)), status)
    }
    if (promptOf(record) === 'consent') {
      // After a form post: Post/Redirect/Get, so a reload does not post the password again.
      if (status === 303) return reply.redirect(`${this.ctx.basePath}${routes.consent}?interaction_id=${encodeURIComponent(record.interactionId)}`, 303)
      return await renderConsent(this.deps, reply, record, authorization, request)
    }
    return await renderLogin(this.deps, reply, record, authorization, request)
  }

  /**
   * Loads the interaction a request names (browser binding and expiry checked). For a form
   * post, the cross-site guard and the CSRF token (`csrf_token`) are checked too.
   */
  async load (request: FastifyRequest, interactionId?: unknown, options: { form?: boolean, noun?: InteractionNoun } = {}): Promise<InteractionRecord> {
    const isForm = options.form ?? request.method === 'POST'
    if (isForm) refuseCrossSiteForm(this.ctx, request)
    const body = typeof request.body === 'object' && request.body !== null ? request.body as RawParams : {}
    return await loadInteraction(this.deps, request, interactionId ?? interactionIdOf(request), {
      checkCsrf: isForm,
      csrfToken: body.csrf_token,
      ...(options.noun === undefined ? {} : { noun: options.noun }),
    })
  }

  /** `app.oidc.getInteraction`: on a POST (a step of the host's form) the form rules apply too. */
  async get (request: FastifyRequest, interactionId?: string): Promise<Interaction> {
    const record = await this.load(request, interactionId)
    const prompt = promptOf(record)
    if (prompt === 'logout') throw new OAuthError('invalid_request', 'this is a sign-out request, not a sign-in (read it with getLogoutInteraction)')
    // A consent is shown only to the signed-in user it was asked of.
    if (prompt === 'consent') await requireInteractionUser(this.deps, request, record)
    return (await describeInteraction(this.ctx, record, request)).interaction
  }

  /** `app.oidc.getLogoutInteraction`: the same rules as `get`, for a pending logout. */
  async getLogout (request: FastifyRequest, interactionId?: string): Promise<LogoutInteraction> {
    const record = await this.load(request, interactionId, { noun: 'sign-out' })
    if (promptOf(record) !== 'logout') throw new OAuthError('invalid_request', 'this is a sign-in request, not a sign-out (read it with getInteraction)')
    return await describeLogoutInteraction(this.deps, record, request)
  }

  /** `app.oidc.finishInteraction`: a login/consent resumes the authorization; a logout ends as the user answered. */
  async finish (request: FastifyRequest, reply: FastifyReply, result: InteractionResult, interactionId?: string): Promise<FastifyReply> {
    const record = await this.load(request, interactionId)
    return await this.finishLoaded(record, result, request, reply)
  }

  /** Finishes a record already loaded through `load` (our own forms load it with their field names). */
  async finishLoaded (record: InteractionRecord, result: InteractionResult, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    if (promptOf(record) === 'logout') {
      if (typeof result !== 'object' || result === null || !('logout' in result)) {
        throw hostMistake('finishInteraction: this interaction is a sign-out; the result must be { logout: true } or { logout: false }')
      }
      return await finishLogout(this.deps, record, result, request, reply)
    }
    if (typeof result === 'object' && result !== null && 'logout' in result) {
      throw hostMistake('finishInteraction: { logout } ends a sign-out interaction; this one asks for a login or consent')
    }
    return await finishInteraction(this.deps, record, result, request, reply)
  }

  /**
   * `app.oidc.checkPassword`: the user adapter's `authenticate`, behind the same brute-force
   * limits as our login page (per username and per IP, across instances), with the same
   * security events. One answer for an unknown user and a wrong password.
   */
  async checkPassword (request: FastifyRequest, username: string, password: string, clientId = ''): Promise<PasswordCheck> {
    const { ctx, loginFailures } = this.deps
    const name = String(username).slice(0, 256)
    const secret = String(password).slice(0, 1024)
    const ip = request.ip
    const { lockedFor } = await loginFailures.check(name, ip)
    if (lockedFor > 0) {
      ctx.audit('login.locked', { username: name, clientId, ip, retryAfter: lockedFor })
      return { ok: false, reason: 'locked', retryAfter: lockedFor }
    }
    const accountId = name === '' || secret === '' ? null : await ctx.users.authenticate(name, secret)
    if (accountId === null) {
      const lockout = await loginFailures.recordFailure(name, ip)
      ctx.audit('login.failure', { username: name, clientId, ip })
      if (lockout > 0) ctx.audit('login.locked', { username: name, clientId, ip, retryAfter: lockout })
      return { ok: false, reason: 'invalid' }
    }
    await loginFailures.recordSuccess(name)
    return { ok: true, accountId }
  }
}

function field (body: RawParams, name: string): string {
  const value = body[name]
  if (typeof value !== 'string') throw new OAuthError('invalid_request', `form field "${name}" is missing or repeated`)
  return value
}

/** Our own pages' handlers: the built-in host of the interaction API. */
export class BuiltInPages {
  /** Passkeys on our pages, when the `passkeys` option is on. */
  readonly passkeys: PasskeyPages | undefined

  constructor (private readonly service: InteractionService) {
    this.passkeys = service.passkeys === undefined ? undefined : new PasskeyPages(service, service.passkeys)
  }

  /** POST /authorize with interaction_id: our password form, finished as `{ login }`. */
  async submitLogin (body: RawParams, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { deps } = this.service
    const record = await this.service.load(request, undefined, { form: true })
    if (promptOf(record) !== 'login') throw new OAuthError('invalid_request', 'this request asks for a consent or a sign-out, not a password')
    const authorization = await restoreRequest(deps.ctx, record.params)
    const username = field(body, 'username').slice(0, 256)
    const password = field(body, 'password').slice(0, 1024)
    const check = await this.service.checkPassword(request, username, password, authorization.client.client_id)
    if (!check.ok) {
      const catalogs = reply.oidcPages.catalogs
      const locale = pageLocale(catalogs, request, authorization.uiLocales)
      if (check.reason === 'locked') {
        reply.header('retry-after', String(check.retryAfter))
        return await renderLogin(deps, reply, record, authorization, request, {
          status: 429,
          username,
          error: catalogs.t(locale, 'login.locked', { minutes: Math.ceil(check.retryAfter / 60) }),
        })
      }
      // One message for an unknown user and a wrong password: no account enumeration.
      return await renderLogin(deps, reply, record, authorization, request, { status: 401, username, error: catalogs.t(locale, 'login.invalid') })
    }
    // A user without a passkey is offered one before the flow goes on (finished from the offer's form).
    if (this.passkeys !== undefined && await this.passkeys.shouldOffer(check.accountId)) {
      return await this.passkeys.renderOffer(record, check.accountId, request, reply)
    }
    return await finishInteraction(deps, record, { login: { accountId: check.accountId, amr: ['pwd'] } }, request, reply)
  }

  /** GET /consent: our consent page for a pending consent of the signed-in user. */
  async showConsent (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { deps } = this.service
    const record = await this.service.load(request, undefined, { form: false })
    if (promptOf(record) !== 'consent') throw new OAuthError('invalid_request', 'this request asks for a login or a sign-out, not a consent')
    await requireInteractionUser(deps, request, record)
    const authorization = await restoreRequest(deps.ctx, record.params)
    return await renderConsent(deps, reply, record, authorization, request)
  }

  /** POST /consent: approve grants every requested scope, deny ends with access_denied. */
  async submitConsent (body: RawParams, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const record = await this.service.load(request, undefined, { form: true })
    const decision = body.decision
    if (decision !== 'approve' && decision !== 'deny') throw new OAuthError('invalid_request', 'the consent form has no decision')
    const result = decision === 'approve' ? { consent: {} } : { error: 'access_denied' as const }
    return await this.service.finishLoaded(record, result, request, reply)
  }

  /**
   * POST /logout with `logout_id`: our confirmation form, finished as `{ logout }` through the
   * same call a host's page makes (`logout` signs out, `stay` keeps the session).
   */
  async submitLogout (body: RawParams, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const record = await this.service.load(request, body.logout_id, { form: true, noun: 'sign-out' })
    if (promptOf(record) !== 'logout') throw new OAuthError('invalid_request', 'this sign-out request has expired or was already answered; go back to the application and start again')
    const decision = body.decision
    if (decision !== 'logout' && decision !== 'stay') throw new OAuthError('invalid_request', 'the sign-out form has no decision')
    return await this.service.finishLoaded(record, { logout: decision === 'logout' }, request, reply)
  }
}
