import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ProviderContext } from '../context.js'
import { OAuthError } from '../errors.js'
import { nowSeconds, randomToken } from '../crypto.js'
import { ProviderCookies } from '../cookies.js'
import { routes } from '../urls.js'
import { finish, handleAuthorizationRequest, redirectOnError, renderLogin, type FlowDeps } from '../authorize/flow.js'
import { needsConsent } from '../authorize/grant.js'
import { restoreRequest, type RawParams } from '../authorize/request.js'
import { LoginLimits } from '../authorize/login-limits.js'
import { loadInteraction } from '../authorize/interaction.js'
import { resolvePushedRequest } from '../par/resolve.js'

/**
 * `/authorize` (RFC 6749 §3.1, OIDC Core §3.1.2): GET and POST take the authorization request;
 * a POST carrying `interaction_id` is the login form's submission.
 */
export async function authorizeRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  const deps: FlowDeps = { ctx, cookies: new ProviderCookies(ctx) }
  const limits = new LoginLimits(ctx)
  const config = { html: true }

  app.get(routes.authorize, { config }, async (request, reply) => {
    const params = await resolvePushedRequest(ctx, request.query as RawParams)
    return await handleAuthorizationRequest(deps, params, request, reply)
  })

  app.post(routes.authorize, { config }, async (request, reply) => {
    const body = formBody(request)
    if (body.interaction_id !== undefined) return await submitLogin(deps, limits, body, request, reply)
    return await handleAuthorizationRequest(deps, await resolvePushedRequest(ctx, body), request, reply)
  })
}

/** The browser endpoints accept only HTML forms. */
export function formBody (request: FastifyRequest): RawParams {
  const type = request.headers['content-type'] ?? ''
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw new OAuthError('invalid_request', 'expected an HTML form (application/x-www-form-urlencoded)', { statusCode: 415 })
  }
  const body = request.body
  return typeof body === 'object' && body !== null ? body as RawParams : {}
}

function field (body: RawParams, name: string): string {
  const value = body[name]
  if (typeof value !== 'string') throw new OAuthError('invalid_request', `form field "${name}" is missing or repeated`)
  return value
}

/** The login form (POST /authorize with interaction_id): CSRF, lockout, credentials, session. */
async function submitLogin (deps: FlowDeps, limits: LoginLimits, body: RawParams, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { ctx, cookies } = deps
  const interaction = await loadInteraction(deps, request, body)
  const authorization = await restoreRequest(ctx, interaction.params)
  const username = field(body, 'username').slice(0, 256)
  const password = field(body, 'password').slice(0, 1024)
  const clientId = authorization.client.client_id
  const ip = request.ip

  const lockedFor = await limits.lockedFor(username, ip)
  if (lockedFor > 0) {
    ctx.audit('login.locked', { username, clientId, ip, retryAfter: lockedFor })
    reply.header('retry-after', String(lockedFor))
    return await renderLogin(deps, reply, interaction, authorization, {
      status: 429,
      username,
      error: `Too many failed sign-in attempts. Try again in ${Math.ceil(lockedFor / 60)} minute(s).`,
    })
  }

  const accountId = username === '' || password === '' ? null : await ctx.users.authenticate(username, password)
  if (accountId === null) {
    const lockout = await limits.recordFailure(username, ip)
    ctx.audit('login.failure', { username, clientId, ip })
    if (lockout > 0) ctx.audit('login.locked', { username, clientId, ip, retryAfter: lockout })
    // One message for an unknown user and a wrong password: no account enumeration.
    return await renderLogin(deps, reply, interaction, authorization, { status: 401, username, error: 'Invalid username or password.' })
  }
  await limits.recordSuccess(username, ip)

  // A new session id at every login (no session fixation); the old session is ended.
  const previous = cookies.sessionId(request)
  if (previous !== undefined) await ctx.store.deleteSession(previous)
  const now = nowSeconds()
  const session = { sessionId: randomToken(32), accountId, authTime: now, expiresAt: now + ctx.options.ttl.session }
  await ctx.store.saveSession(session)
  cookies.setSession(reply, session.sessionId)
  ctx.audit('login.success', { accountId, clientId, ip })

  try {
    if (interaction.params.id_token_hint !== undefined) {
      const hint = await ctx.keys.verifier.verify(interaction.params.id_token_hint, { typ: 'JWT', audience: clientId, ignoreExpiry: true })
      if (hint?.sub !== accountId) throw new OAuthError('login_required', 'the signed-in user is not the one the application asked for', { allowRedirect: true })
    }
    const authentication = { accountId, authTime: now, sessionId: session.sessionId }
    const grant = await ctx.store.findGrant(accountId, clientId)
    if (needsConsent(authorization, grant)) {
      // Post/Redirect/Get: a reload of the consent page does not resubmit the password.
      await ctx.store.saveInteraction({ ...interaction, accountId, authTime: now, sessionId: session.sessionId })
      reply.header('cache-control', 'no-store')
      return reply.redirect(`${ctx.basePath}${routes.consent}?interaction_id=${encodeURIComponent(interaction.interactionId)}`, 303)
    }
    // The interaction is done: take it so the login form cannot be replayed for another code.
    if (await ctx.store.consumeInteraction(interaction.interactionId) === undefined) {
      throw new OAuthError('invalid_request', 'this sign-in request was already completed')
    }
    return await finish(deps, authorization, authentication, reply, 303, false, { grant })
  } catch (error) {
    return redirectOnError(ctx, reply, error, authorization.redirectUri, authorization.state, 303)
  }
}
