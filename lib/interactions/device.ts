import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import type { DeviceAuthorizationRecord } from '../contracts/store.js'
import { OAuthError } from '../contracts/errors.js'
import { routes } from '../contracts/urls.js'
import { FailureCounter, userCodeFailureKind } from '../http/failure-counters.js'
import { pageLocale } from '../http/pages/locale.js'
import { nowSeconds, randomToken, safeEqual, sha256 } from '../tokens/crypto.js'
import { browserSessionWithGrant } from '../sessions/browser.js'
import { decide } from './decide.js'
import { act } from './steps.js'
import { forbidden } from './errors.js'
import { serializeRequest, restoreRequest } from './stored-request.js'
import { formatUserCode, hashUserCode, newUserCode, normalizeUserCode } from './user-code.js'
import type { AuthorizationRequest, FlowDeps, RawParams } from './types.js'

/** RFC 8628 §3.2: the device authorization response. */
export interface DeviceAuthorizationResponse {
  device_code: string
  user_code: string
  verification_uri: string
  verification_uri_complete: string
  expires_in: number
  interval: number
}

/** How long a record outlives its codes, so a device polling late learns `expired_token` (§3.5). */
const lateWindow = 300

/** A user code collision is a 1-in-10^10 event per live code; a few draws always find a free one. */
const maxCodeDraws = 5

/**
 * RFC 8628 §3.1-3.2: stores a validated device authorization request (the parser's, `via:
 * 'device'`) with a fresh device code (256 random bits) and user code (user-code.ts), both
 * stored only as hashes, and answers what the device shows and polls with. The record outlives
 * the codes by `lateWindow` so a late poll is told `expired_token`.
 */
export async function startDeviceAuthorization (ctx: ProviderContext, authorization: AuthorizationRequest): Promise<DeviceAuthorizationResponse> {
  const lifetime = ctx.options.ttl.deviceCode
  const interval = ctx.options.deviceFlow.interval
  for (let draw = 0; draw < maxCodeDraws; draw++) {
    const deviceCode = randomToken(32)
    const userCode = newUserCode()
    const deviceCodeHash = sha256(deviceCode)
    const now = nowSeconds()
    const record: DeviceAuthorizationRecord = {
      clientId: authorization.client.client_id,
      userCodeHash: hashUserCode(userCode),
      params: serializeRequest({ ...authorization, deviceCodeHash }),
      interval,
      codeExpiresAt: now + lifetime,
      expiresAt: now + lifetime + lateWindow,
    }
    if (await ctx.store.createDeviceAuthorization(deviceCodeHash, record)) {
      ctx.audit('device.requested', { clientId: record.clientId })
      const shown = formatUserCode(userCode)
      return {
        device_code: deviceCode,
        user_code: shown,
        verification_uri: ctx.urls.device,
        verification_uri_complete: `${ctx.urls.device}?user_code=${shown}`,
        expires_in: lifetime,
        interval,
      }
    }
  }
  throw new OAuthError('temporarily_unavailable', 'no free user code was found; try again')
}

/**
 * The verification page (RFC 8628 §3.3): the user enters the code (or arrives with it from
 * `verification_uri_complete`, and still confirms it by submitting: §5.4), then goes through
 * the same login and consent as the code flow (the host's pages when `interactions.url` is
 * set); the consent names the client and its scopes. The form is bound to the browser (its
 * id cookie; the CSRF token is derived from it), guarded against cross-site posts, and wrong
 * codes are counted per browser and per IP (`rateLimit.userCodeFailures`).
 */
export class DeviceVerification {
  readonly #failures: FailureCounter

  constructor (private readonly deps: FlowDeps) {
    this.#failures = new FailureCounter(deps.ctx, userCodeFailureKind)
  }

  /** GET: the code entry page, prefilled from `user_code` when it is a well-formed code. */
  async show (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const query = request.query as RawParams
    const code = normalizeUserCode(query.user_code)
    // Arrived with a code (verification_uri_complete): the page asks the user to check it (§5.4).
    return await this.#render(request, reply, { userCode: code === undefined ? '' : formatUserCode(code), confirm: code !== undefined })
  }

  /** POST: checks the code and starts the user's part of the authorization. */
  async submit (body: RawParams, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { ctx } = this.deps
    const browserId = this.deps.cookies.browserId(request)
    const csrf = body.csrf_token
    if (browserId === undefined || typeof csrf !== 'string' || !safeEqual(csrf, csrfFor(browserId))) {
      throw forbidden('the form is missing its security token or it does not match; reload the page and try again')
    }
    const typed = typeof body.user_code === 'string' ? body.user_code.slice(0, 20) : ''
    const { catalogs } = ctx.pages
    const locale = pageLocale(catalogs, request)
    const { lockedFor } = await this.#failures.check(browserId, request.ip)
    if (lockedFor > 0) {
      ctx.audit('device.user_code_failure', { ip: request.ip, locked: true })
      reply.header('retry-after', String(lockedFor))
      return await this.#render(request, reply, { userCode: typed, status: 429, error: catalogs.t(locale, 'device.locked', { minutes: Math.ceil(lockedFor / 60) }) })
    }
    const code = normalizeUserCode(typed)
    const found = code === undefined ? undefined : await ctx.store.findDeviceAuthorization(hashUserCode(code))
    if (found === undefined) {
      const lockout = await this.#failures.recordFailure(browserId, request.ip)
      ctx.audit('device.user_code_failure', { ip: request.ip, locked: lockout > 0 })
      return await this.#render(request, reply, { userCode: typed, status: 400, error: catalogs.t(locale, 'device.invalid') })
    }
    // A real code, but answered or expired: not a guess, and nothing more to do with it.
    if (found.status !== 'pending' || found.record.codeExpiresAt <= nowSeconds()) {
      return await this.#render(request, reply, { userCode: typed, status: 400, error: catalogs.t(locale, 'device.used') })
    }
    const authorization = await restoreRequest(ctx, found.record.params)
    const decision = await decide(ctx, authorization, await browserSessionWithGrant(this.deps, request, authorization.client.client_id))
    return await act(this.deps, decision, authorization, request, reply, 303)
  }

  async #render (request: FastifyRequest, reply: FastifyReply, view: { userCode: string, confirm?: boolean, error?: string, status?: number }): Promise<FastifyReply> {
    const { ctx, cookies } = this.deps
    let browserId = cookies.browserId(request)
    if (browserId === undefined) {
      browserId = randomToken(16)
      cookies.setBrowserId(reply, browserId)
    }
    const { catalogs } = ctx.pages
    const query = request.query as RawParams
    const uiLocales = typeof query.ui_locales === 'string' ? query.ui_locales.split(' ').slice(0, 20) : []
    const locale = pageLocale(catalogs, request, uiLocales)
    reply.code(view.status ?? 200)
    return await ctx.pages.send(reply, 'device', {
      locale,
      title: catalogs.t(locale, 'device.title'),
      action: ctx.basePath + routes.device,
      csrfToken: csrfFor(browserId),
      userCode: view.userCode,
      confirm: view.confirm === true,
      error: view.error,
    }, { locale, formTargets: [] })
  }
}

/**
 * The code entry form's CSRF token: derived from the browser's id cookie (HttpOnly, signed,
 * SameSite=Lax), which another site can neither read nor send with a cross-site post. There
 * is no interaction record yet to hold a token, and the page is public.
 */
function csrfFor (browserId: string): string {
  return sha256(`device-form\n${browserId}`)
}
