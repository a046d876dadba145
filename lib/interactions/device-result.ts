import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import type { DeviceApproval } from '../contracts/store.js'
import { OAuthError } from '../contracts/errors.js'
import { pageLocale } from '../http/pages/locale.js'
import { publicClient } from '../tokens/claims-hook.js'
import { recordSessionClient } from '../sessions/session.js'
import { grantForDecision } from './grant.js'
import type { AuthorizationRequest, IssueCode } from './types.js'
import { issuedAcr } from './acr.js'

/*
 * How the user's part of a device authorization (RFC 8628 §3.3) ends: the answer is recorded
 * on the device authorization, which the device learns at its next poll, and the browser gets
 * a page saying so and that the window can be closed. Rendered with the provider's renderer,
 * not `reply.oidcPages`: a host's consent page may finish the interaction from its own route.
 */

function deviceCodeOf (authorization: AuthorizationRequest): string {
  if (authorization.deviceCodeHash === undefined) throw new Error('not a device authorization')
  return authorization.deviceCodeHash
}

/** The user approved: the grant is recorded and the device code bound to it. */
export async function approveDevice (
  ctx: ProviderContext,
  authorization: AuthorizationRequest,
  decision: IssueCode,
  request: FastifyRequest,
  reply: FastifyReply
): Promise<FastifyReply> {
  const { authentication, scopes } = decision
  const clientId = authorization.client.client_id
  const grant = await grantForDecision(ctx, authorization, decision)
  const approval: DeviceApproval = { accountId: authentication.accountId, grantId: grant.grantId, scope: scopes.join(' '), authTime: authentication.authTime }
  if (authentication.sessionId !== undefined) approval.sessionId = authentication.sessionId
  if (authentication.sid !== undefined) approval.sid = authentication.sid
  // OIDC Core §3.1.2.1, §5.5.1.1: the ID token at /token states what a code's would.
  const acr = issuedAcr(ctx, authorization, authentication)
  if (acr !== undefined) approval.acr = acr
  if (authentication.amr !== undefined) approval.amr = authentication.amr
  const [decided] = await Promise.all([
    ctx.store.decideDeviceAuthorization(deviceCodeOf(authorization), { approved: approval }),
    // Back-channel logout reaches the device's tokens through the session, as for a code.
    recordSessionClient(ctx, authentication.sessionId, clientId, authentication.sessionClients),
  ])
  if (!decided) return await renderDeviceDone(ctx, authorization, 'expired', request, reply, 400)
  ctx.audit('device.approved', { clientId, accountId: authentication.accountId })
  return await renderDeviceDone(ctx, authorization, 'approved', request, reply)
}

/**
 * The user denied (or the interaction ended with another protocol error): the device gets
 * `access_denied`. Anything that is not a protocol error is thrown, to be shown as an error page.
 */
export async function denyDevice (
  ctx: ProviderContext,
  authorization: AuthorizationRequest,
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply
): Promise<FastifyReply> {
  if (!(error instanceof OAuthError) || !error.allowRedirect) throw error
  const decided = await ctx.store.decideDeviceAuthorization(deviceCodeOf(authorization), { denied: true })
  if (!decided) return await renderDeviceDone(ctx, authorization, 'expired', request, reply, 400)
  ctx.audit('device.denied', { clientId: authorization.client.client_id })
  return await renderDeviceDone(ctx, authorization, 'denied', request, reply)
}

/** The page after the answer (`device-done`): approved, denied, or too late. */
async function renderDeviceDone (
  ctx: ProviderContext,
  authorization: AuthorizationRequest,
  outcome: 'approved' | 'denied' | 'expired',
  request: FastifyRequest,
  reply: FastifyReply,
  status = 200
): Promise<FastifyReply> {
  const { catalogs } = ctx.pages
  const locale = pageLocale(catalogs, request, authorization.uiLocales)
  const client = publicClient(authorization.client)
  reply.code(status)
  return await ctx.pages.send(reply, 'device-done', {
    locale,
    outcome,
    clientName: client.clientName ?? client.clientIdHost ?? client.clientId,
    title: catalogs.t(locale, `device.${outcome}Title`),
  }, { locale, formTargets: [] })
}
