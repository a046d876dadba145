import type { FastifyReply, FastifyRequest } from 'fastify'
import type { InteractionRecord } from '../contracts/store.js'
import { formTargetOf, renderPage } from '../http/pages/render.js'
import { routes } from '../contracts/urls.js'
import { publicClient } from '../tokens/claims-hook.js'
import { unconsentedClaims } from './decide.js'
import { toInteraction } from './view.js'
import type { AuthorizationRequest, FlowDeps } from './types.js'
import type { LogoutInteraction } from '../contracts/interactions.js'
import { renderLogoutConfirmation } from '../sessions/pages.js'
import { passkeyScriptSource, passkeyUrls } from './passkey-urls.js'

/*
 * Our own login, consent and logout confirmation pages: one user of the interaction API like a host's page. They
 * render from the interaction's public view and finish it through the service, so they follow
 * exactly the rules a host's pages do.
 */

function displayName (authorization: AuthorizationRequest): string {
  return authorization.client.client_name ?? clientIdHost(authorization) ?? authorization.client.client_id
}

/** A metadata-document client's host (draft-ietf-oauth-client-id-metadata-document, security considerations: shown prominently). */
function clientIdHost (authorization: AuthorizationRequest): string | undefined {
  return publicClient(authorization.client).clientIdHost
}

/** The login page. Variables: see docs/pages.md, "Branding and languages". */
export async function renderLogin (
  deps: FlowDeps,
  reply: FastifyReply,
  record: InteractionRecord,
  authorization: AuthorizationRequest,
  request: FastifyRequest,
  options: { error?: string, username?: string, status?: number } = {}
): Promise<FastifyReply> {
  const interaction = toInteraction(deps.ctx, record, authorization, request)
  const catalogs = reply.oidcPages.catalogs
  const customTitle = deps.ctx.options.pageTitle !== 'Sign in'
  reply.code(options.status ?? 200)
  return await renderPage(reply, 'login', {
    locale: interaction.locale,
    interaction,
    title: customTitle ? deps.ctx.options.pageTitle : catalogs.t(interaction.locale, 'login.title'),
    clientName: displayName(authorization),
    action: deps.ctx.basePath + routes.authorize,
    interactionId: record.interactionId,
    csrfToken: record.csrfToken,
    username: options.username ?? authorization.loginHint ?? '',
    error: options.error,
    passkeys: deps.ctx.options.passkeys === undefined ? undefined : passkeyUrls(deps.ctx.basePath),
  }, formTargets(authorization), deps.ctx.options.passkeys === undefined ? undefined : passkeyScriptSource(deps.ctx.issuer, deps.ctx.basePath))
}

/** The consent page. */
export async function renderConsent (
  deps: FlowDeps,
  reply: FastifyReply,
  record: InteractionRecord,
  authorization: AuthorizationRequest,
  request: FastifyRequest
): Promise<FastifyReply> {
  const { client } = authorization
  const interaction = toInteraction(deps.ctx, record, authorization, request)
  const catalogs = reply.oidcPages.catalogs
  const claims = record.accountId === undefined
    ? null
    : await deps.ctx.users.claims(record.accountId, new Set(['profile', 'email']), { kind: 'consent', client: publicClient(client), accountId: record.accountId, scopes: new Set(authorization.scopes) })
  // RFC 8628 §5.4: a device's request did not come from this browser; nothing is redirected.
  const device = authorization.deviceCodeHash !== undefined
  const redirect = device ? undefined : new URL(authorization.redirectUri)
  return await renderPage(reply, 'consent', {
    locale: interaction.locale,
    interaction,
    title: catalogs.t(interaction.locale, 'consent.title', { client: displayName(authorization) }),
    clientName: displayName(authorization),
    clientHost: clientIdHost(authorization),
    clientUri: client.client_uri,
    policyUri: client.policy_uri,
    tosUri: client.tos_uri,
    account: claims?.email ?? claims?.preferred_username ?? record.accountId,
    redirectHost: redirect === undefined ? undefined : redirect.host || redirect.protocol,
    device,
    scopes: interaction.scopes,
    claims: unconsentedClaims(deps.ctx, authorization, authorization.scopes),
    action: deps.ctx.basePath + routes.consent,
    interactionId: record.interactionId,
    csrfToken: record.csrfToken,
  }, formTargets(authorization))
}

/** Where the page's form may end up (CSP form-action): the client's redirect_uri; a device's request goes nowhere else. */
export function formTargets (authorization: AuthorizationRequest): string[] {
  return authorization.deviceCodeHash === undefined ? [formTargetOf(authorization.redirectUri)] : []
}

/** The logout confirmation page ("Sign out?"), from the pending logout's public view. */
export async function renderLogout (deps: FlowDeps, reply: FastifyReply, interaction: LogoutInteraction): Promise<FastifyReply> {
  return await renderLogoutConfirmation(deps.ctx.pages, reply, {
    locale: interaction.locale,
    clientName: interaction.client?.clientName ?? interaction.client?.clientId,
    action: deps.ctx.basePath + routes.logout,
    logoutId: interaction.id,
    csrfToken: interaction.csrfToken,
    postLogoutRedirectUri: interaction.postLogoutRedirectUri,
  })
}
