import { inSpan, tracingRegistered } from '../contracts/tracing.js'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { InteractionRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'
import { startBrowserInteraction } from '../sessions/browser.js'
import { grantForDecision } from './grant.js'
import { approveDevice, denyDevice } from './device-result.js'
import { respond, respondWithError, type ResponseTarget } from './respond.js'
import { issueCode, recordIdTokenIssue } from './code.js'
import { frontChannelIdToken } from './id-token.js'
import { returnsCode, returnsIdToken } from '../clients/response-types.js'
import { serializeRequest } from './stored-request.js'
import type { Authentication, AuthorizationRequest, Decision, FlowDeps, IssueCode } from './types.js'

/*
 * The steps every way through an authorization shares (the request at /authorize, and the end
 * of a login or consent page): acting on a decision, which shows a page, issues the code or
 * sends an error to the client.
 */

/**
 * Carries out a decision: a new browser-bound interaction shown as the login or consent page
 * (`present`), the code, or the error, sent to the client's redirect_uri with `state` and `iss`.
 * `status` is 302 after a GET and 303 after a form post (Post/Redirect/Get).
 */
export async function act (
  deps: FlowDeps,
  decision: Decision,
  authorization: AuthorizationRequest,
  request: FastifyRequest,
  reply: FastifyReply,
  status: 302 | 303
): Promise<FastifyReply> {
  // Tracing off (the usual case): no span attributes, name and closure per authorization.
  if (!tracingRegistered()) return await actUntraced(deps, decision, authorization, request, reply, status)
  // One span per interaction step: which step, for which client (an id, never the user).
  return await inSpan(`oidc.interaction.${decision.kind}`, { 'oauth.client_id': authorization.client.client_id }, async () =>
    await actUntraced(deps, decision, authorization, request, reply, status))
}

async function actUntraced (
  deps: FlowDeps,
  decision: Decision,
  authorization: AuthorizationRequest,
  request: FastifyRequest,
  reply: FastifyReply,
  status: 302 | 303
): Promise<FastifyReply> {
  switch (decision.kind) {
    case 'login':
    case 'consent': {
      const authentication = decision.kind === 'consent' ? decision.authentication : undefined
      const record = await startInteraction(deps, decision.kind, authorization, request, reply, authentication)
      return await deps.present(record, authorization, request, reply, status)
    }
    case 'issue-code':
      // RFC 8628: a device's sign-in ends on our "you can close this window" page, not at a redirect_uri.
      if (authorization.deviceCodeHash !== undefined) return await approveDevice(deps.ctx, authorization, decision, request, reply)
      return await issueAndRespond(deps.ctx, authorization, decision, reply, status)
    case 'error':
      if (authorization.deviceCodeHash !== undefined) return await denyDevice(deps.ctx, authorization, decision.error, request, reply)
      return respondOnError(deps.ctx, reply, decision.error, authorization, status)
  }
}

/**
 * Sends a protocol error that may go to the client (RFC 6749 §4.1.2.1), in the request's
 * response mode (`respond`); anything else is thrown, to be shown as an error page.
 */
export function respondOnError (
  ctx: ProviderContext,
  reply: FastifyReply,
  error: unknown,
  target: ResponseTarget,
  status: 302 | 303
): FastifyReply {
  if (error instanceof OAuthError && error.allowRedirect) return respondWithError(ctx, reply, target, error, status)
  throw error
}

/**
 * Issues what the response type asks for (RFC 6749 §4.1.2; OIDC Core §3.2.2.5, §3.3.2.5) for
 * the decision's scopes under the user's grant, recorded or widened when the consent is new
 * or the grant falls short, and sends it to the client in the request's response mode.
 */
async function issueAndRespond (ctx: ProviderContext, authorization: AuthorizationRequest, decision: IssueCode, reply: FastifyReply, status: 302 | 303): Promise<FastifyReply> {
  const { authentication, scopes } = decision
  const grant = await grantForDecision(ctx, authorization, decision)
  const { responseType } = authorization
  let code: string | undefined
  if (returnsCode(responseType)) code = await issueCode(ctx, authorization, authentication, grant, scopes)
  else await recordIdTokenIssue(ctx, authorization, authentication)
  const idToken = returnsIdToken(responseType) ? await frontChannelIdToken(ctx, authorization, authentication, scopes, code) : undefined
  return respond(ctx, reply, authorization, { code, id_token: idToken }, status)
}

/** Saves the login or consent step as an interaction bound to this browser, holding the request it belongs to. */
async function startInteraction (
  deps: FlowDeps,
  prompt: 'login' | 'consent',
  authorization: AuthorizationRequest,
  request: FastifyRequest,
  reply: FastifyReply,
  authentication?: Authentication
): Promise<InteractionRecord> {
  // Members left undefined are not written (startBrowserInteraction): a login step has no account yet.
  return await startBrowserInteraction(deps, request, reply, {
    clientId: authorization.client.client_id,
    params: serializeRequest(authorization),
    prompt,
    accountId: authentication?.accountId,
    authTime: authentication?.authTime,
    sessionId: authentication?.sessionId,
    sid: authentication?.sid,
    acr: authentication?.acr,
    amr: authentication?.amr,
  })
}
