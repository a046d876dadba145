import type { FastifyReply, FastifyRequest } from 'fastify'
import type { GrantRecord, InteractionRecord, SessionRecord } from '../adapters/store/types.js'
import type { ProviderContext } from '../context.js'
import { OAuthError } from '../errors.js'
import { nowSeconds, randomToken } from '../crypto.js'
import type { ProviderCookies } from '../cookies.js'
import { formTargetOf, renderPage } from '../pages.js'
import { routes } from '../urls.js'
import { scopeDescriptions } from '../scope-descriptions.js'
import { resolveAuthorizationResources, resourceScopeDescriptions } from '../resources/resolve.js'
import { issueCode, type Authentication } from './code.js'
import { needsConsent, recordGrant } from './grant.js'
import { errorUrl, successUrl } from './respond.js'
import {
  controlCharacters,
  redirectError,
  resolveClientAndRedirect,
  serializeRequest,
  validateAuthorizationRequest,
  type AuthorizationRequest,
  type RawParams,
} from './request.js'

/** Shared by the authorize and consent routes. */
export interface FlowDeps {
  ctx: ProviderContext
  cookies: ProviderCookies
}

/**
 * Handles an authorization request (GET, or POST per OIDC Core §3.1.2.1): validate, then log in,
 * ask for consent or answer at once with a code (SSO), as the session, the grant and `prompt`
 * require. Errors before the redirect_uri is trusted render a page; after, they redirect.
 */
export async function handleAuthorizationRequest (deps: FlowDeps, params: RawParams, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { client, redirectUri } = await resolveClientAndRedirect(deps.ctx, params)
  const state = typeof params.state === 'string' && params.state !== '' && !controlCharacters.test(params.state) ? params.state : undefined
  try {
    const authorization = validateAuthorizationRequest(deps.ctx, params, client, redirectUri)
    authorization.resources = await resolveAuthorizationResources(deps.ctx, params.resource)
    return await decide(deps, authorization, request, reply, 302)
  } catch (error) {
    return redirectOnError(deps.ctx, reply, error, redirectUri, state, 302)
  }
}

/** Sends a redirect-able protocol error to the client; anything else propagates (error page). */
export function redirectOnError (
  ctx: ProviderContext,
  reply: FastifyReply,
  error: unknown,
  redirectUri: string,
  state: string | undefined,
  status: 302 | 303
): FastifyReply {
  if (error instanceof OAuthError && error.allowRedirect) {
    return reply.code(status).header('cache-control', 'no-store').redirect(errorUrl(ctx, redirectUri, state, error), status)
  }
  throw error
}

async function currentSession (deps: FlowDeps, request: FastifyRequest): Promise<SessionRecord | undefined> {
  const sessionId = deps.cookies.sessionId(request)
  if (sessionId === undefined) return undefined
  return await deps.ctx.store.getSession(sessionId)
}

/** The `sub` of a valid id_token_hint we issued to this client; a forged hint is refused. */
async function hintedSubject (ctx: ProviderContext, authorization: AuthorizationRequest): Promise<string | undefined> {
  if (authorization.idTokenHint === undefined) return undefined
  // OIDC Core §3.1.2.1: an expired hint is still a hint; signature, issuer and audience are not optional.
  const payload = await ctx.keys.verifier.verify(authorization.idTokenHint, { typ: 'JWT', audience: authorization.client.client_id, ignoreExpiry: true })
  if (payload === undefined || typeof payload.sub !== 'string') {
    throw redirectError('invalid_request', 'id_token_hint is not a valid ID token issued to this client')
  }
  return payload.sub
}

function loginNeeded (authorization: AuthorizationRequest, session: SessionRecord | undefined, hintSub: string | undefined): boolean {
  if (session === undefined) return true
  if (authorization.prompt.has('login')) return true
  if (authorization.maxAge !== undefined) {
    // OIDC Core §3.1.2.1: max_age=0 is prompt=login.
    if (authorization.maxAge === 0 || nowSeconds() - session.authTime > authorization.maxAge) return true
  }
  return hintSub !== undefined && hintSub !== session.accountId
}

async function decide (deps: FlowDeps, authorization: AuthorizationRequest, request: FastifyRequest, reply: FastifyReply, status: 302 | 303): Promise<FastifyReply> {
  const { ctx } = deps
  const hintSub = await hintedSubject(ctx, authorization)
  const session = await currentSession(deps, request)
  if (loginNeeded(authorization, session, hintSub)) {
    if (authorization.prompt.has('none')) throw redirectError('login_required', 'the user is not logged in')
    const interaction = await startInteraction(deps, authorization, request, reply)
    return await renderLogin(deps, reply, interaction, authorization)
  }
  const authentication: Authentication = { accountId: session!.accountId, authTime: session!.authTime, sessionId: session!.sessionId, ...(session!.sid === undefined ? {} : { sid: session!.sid }) }
  const grant = await ctx.store.findGrant(authentication.accountId, authorization.client.client_id)
  if (needsConsent(authorization, grant)) {
    if (authorization.prompt.has('none')) throw redirectError('consent_required', 'the user has not consented to this application')
    const interaction = await startInteraction(deps, authorization, request, reply, authentication)
    return await renderConsent(deps, reply, interaction, authorization)
  }
  // The grant just read is passed on: reading it again would be one more store round trip
  // (two on Redis) on every SSO authorization.
  return await finish(deps, authorization, authentication, reply, status, false, { grant })
}

/**
 * Issues the code under the (possibly new) grant and redirects to the client. `known` is the
 * user's grant to this client when the caller has just read it from the store.
 */
export async function finish (
  deps: FlowDeps,
  authorization: AuthorizationRequest,
  authentication: Authentication,
  reply: FastifyReply,
  status: 302 | 303,
  consented: boolean,
  known?: { grant: GrantRecord | undefined }
): Promise<FastifyReply> {
  const { ctx } = deps
  let grant = known !== undefined ? known.grant : await ctx.store.findGrant(authentication.accountId, authorization.client.client_id)
  const covered = grant !== undefined && authorization.scopes.every((scope) => grant!.scope.split(' ').includes(scope))
  if (grant === undefined || !covered) grant = await recordGrant(ctx, authentication.accountId, authorization)
  if (consented) {
    ctx.audit('consent.granted', { accountId: authentication.accountId, clientId: authorization.client.client_id, scope: authorization.scopes.join(' ') })
  }
  const code = await issueCode(ctx, authorization, authentication, grant)
  reply.header('cache-control', 'no-store')
  return reply.redirect(successUrl(ctx, authorization, code), status)
}

async function startInteraction (
  deps: FlowDeps,
  authorization: AuthorizationRequest,
  request: FastifyRequest,
  reply: FastifyReply,
  authentication?: Authentication
): Promise<InteractionRecord> {
  let browserId = deps.cookies.browserId(request)
  if (browserId === undefined) {
    browserId = randomToken(16)
    deps.cookies.setBrowserId(reply, browserId)
  }
  const interaction: InteractionRecord = {
    interactionId: randomToken(16),
    clientId: authorization.client.client_id,
    params: serializeRequest(authorization),
    csrfToken: randomToken(24),
    browserId,
    expiresAt: nowSeconds() + deps.ctx.options.ttl.interaction,
  }
  if (authentication !== undefined) {
    interaction.accountId = authentication.accountId
    interaction.authTime = authentication.authTime
    if (authentication.sessionId !== undefined) interaction.sessionId = authentication.sessionId
    if (authentication.sid !== undefined) interaction.sid = authentication.sid
  }
  await deps.ctx.store.saveInteraction(interaction)
  return interaction
}

function displayName (authorization: AuthorizationRequest): string {
  return authorization.client.client_name ?? authorization.client.client_id
}

export async function renderLogin (
  deps: FlowDeps,
  reply: FastifyReply,
  interaction: InteractionRecord,
  authorization: AuthorizationRequest,
  options: { error?: string, username?: string, status?: number } = {}
): Promise<FastifyReply> {
  reply.code(options.status ?? 200)
  return await renderPage(reply, 'login', {
    title: deps.ctx.options.pageTitle,
    clientName: displayName(authorization),
    action: deps.ctx.basePath + routes.authorize,
    interactionId: interaction.interactionId,
    csrfToken: interaction.csrfToken,
    username: options.username ?? authorization.loginHint ?? '',
    error: options.error,
  }, [formTargetOf(authorization.redirectUri)])
}

export async function renderConsent (
  deps: FlowDeps,
  reply: FastifyReply,
  interaction: InteractionRecord,
  authorization: AuthorizationRequest
): Promise<FastifyReply> {
  const { client } = authorization
  const claims = interaction.accountId === undefined ? null : await deps.ctx.users.claims(interaction.accountId, new Set(['profile', 'email']))
  const described = await resourceScopeDescriptions(deps.ctx, authorization.resources ?? [], authorization.scopes)
  return await renderPage(reply, 'consent', {
    title: `Allow ${displayName(authorization)}?`,
    clientName: displayName(authorization),
    clientUri: client.client_uri,
    policyUri: client.policy_uri,
    tosUri: client.tos_uri,
    account: claims?.email ?? claims?.preferred_username ?? interaction.accountId,
    redirectHost: new URL(authorization.redirectUri).host || new URL(authorization.redirectUri).protocol,
    scopes: authorization.scopes.map((scope) => ({ name: scope, description: scopeDescriptions[scope] ?? described[scope] ?? scope })),
    action: deps.ctx.basePath + routes.consent,
    interactionId: interaction.interactionId,
    csrfToken: interaction.csrfToken,
  }, [formTargetOf(authorization.redirectUri)])
}
