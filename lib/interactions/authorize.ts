import type { FastifyReply, FastifyRequest } from 'fastify'
import { browserSession } from '../sessions/browser.js'
import { parseAuthorizationRequest } from './authorization-request.js'
import { resolvePushedRequest } from './par.js'
import { decide } from './decide.js'
import { act, redirectOnError } from './steps.js'
import type { FlowDeps, RawParams } from './types.js'

/**
 * An authorization request at /authorize (RFC 6749 §4.1.1; by GET, or by POST per OIDC Core
 * §3.1.2.1; or by reference to a pushed one, RFC 9126 §4): parsed by the one parser, then
 * decided (login, consent, or the code at once) and acted on. Errors before the redirect_uri
 * is trusted are shown as a page; after, they go back to the client.
 *
 * @example
 * app.get('/authorize', async (request, reply) => await handleAuthorizationRequest(deps, request.query as RawParams, 'query', request, reply))
 */
export async function handleAuthorizationRequest (
  deps: FlowDeps,
  raw: RawParams,
  via: 'query' | 'form',
  request: FastifyRequest,
  reply: FastifyReply
): Promise<FastifyReply> {
  const { ctx } = deps
  const { params, via: source } = await resolvePushedRequest(ctx, raw, via)
  const parsed = await parseAuthorizationRequest(ctx, params, { via: source })
  if (!parsed.ok) {
    if (parsed.redirect === undefined) throw parsed.error
    return redirectOnError(ctx, reply, parsed.error, parsed.redirect.redirectUri, parsed.redirect.state, 302)
  }
  const authorization = parsed.request
  try {
    const decision = await decide(ctx, authorization, await browserSession(deps, request))
    return await act(deps, decision, authorization, request, reply, 302)
  } catch (error) {
    return redirectOnError(ctx, reply, error, authorization.redirectUri, authorization.state, 302)
  }
}
