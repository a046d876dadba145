import type { FastifyReply, FastifyRequest } from 'fastify'
import { browserSessionWithGrant, type SessionGrantRead } from '../sessions/browser.js'
import { parseAuthorizationRequest } from './authorization-request.js'
import { resolvePushedRequest } from './par.js'
import { decide } from './decide.js'
import { act, respondOnError } from './steps.js'
import type { ClientRecord } from '../contracts/store.js'
import type { FlowDeps, RawParams } from './types.js'
import { crossSiteReason } from '../http/browser-form.js'
import { sendAutoSubmitForm, type FormFields } from '../http/auto-submit-form.js'

/** Marks our own re-post (a field the parser ignores, RFC 6749 §3.1), so it is never re-posted again. */
const repostMarker = 'oidc_reposted'

/**
 * OIDC Core §3.1.2.1 lets the RP POST the authorization request, and its page is on another
 * site: a SameSite=Lax session cookie does not come with a cross-site POST (RFC 6265bis
 * §5.5.7.1), so the user would look signed out (a login page again, `login_required` for
 * prompt=none). Such a request, once it passed every check, is posted again by a page of ours
 * (same-origin, so the cookies come). It gains nothing a cross-site GET /authorize would not
 * have: that one carries the Lax cookies anyway. A POST that brought a session cookie, came
 * from our own origin, or was our re-post already, goes on.
 */
function needsSameSiteRepost (deps: FlowDeps, raw: RawParams, request: FastifyRequest): boolean {
  if (raw[repostMarker] !== undefined || deps.cookies.sessionId(request) !== undefined) return false
  return crossSiteReason(request, new URL(deps.ctx.issuer).origin) !== undefined
}

/** The request's own fields, as they came (strings, or a repeated parameter's strings). */
function formFields (raw: RawParams): FormFields {
  const fields: FormFields = {}
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value === 'string') fields[name] = value
    else if (Array.isArray(value)) fields[name] = value.filter((item): item is string => typeof item === 'string')
  }
  return fields
}

/** The client and the browser's session with its grant, read together before the request is parsed. */
interface Prefetched {
  clientId: string
  client: ClientRecord | undefined
  session: { read: SessionGrantRead }
}

/**
 * Issue 32: a signed-in browser's request for a stored client reads the client, then the
 * session and the user's grant to it. A store with `getClientWithSession` reads the three in one
 * step, before the request is parsed: reads only, used once the request passed, each for the
 * client it was read for. Not with a request object (OIDC Core §6): its verification may fetch
 * the client's keys, and a session read that long before the decision could have ended since.
 */
async function prefetch (deps: FlowDeps, params: RawParams, request: FastifyRequest): Promise<Prefetched | undefined> {
  const { store, clients } = deps.ctx
  const clientId = params.client_id
  if (store.getClientWithSession === undefined || typeof clientId !== 'string' || params.request !== undefined || !clients.isStored(clientId)) return undefined
  const sessionId = deps.cookies.sessionId(request)
  if (sessionId === undefined) return undefined
  const read = await store.getClientWithSession(clientId, sessionId)
  return { clientId, client: read.client, session: { read: read.session } }
}

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
  const prefetched = await prefetch(deps, params, request)
  // An unknown client is looked up again by the parser, which says why it is refused.
  const parsed = await parseAuthorizationRequest(ctx, params, { via: source, ...(prefetched?.client === undefined ? {} : { client: prefetched.client }) })
  if (!parsed.ok) {
    if (parsed.redirect === undefined) throw parsed.error
    return respondOnError(ctx, reply, parsed.error, parsed.redirect, 302)
  }
  const authorization = parsed.request
  // Not a pushed request's: its request_uri was taken (single use) and cannot be posted again.
  if (source === 'form' && needsSameSiteRepost(deps, raw, request)) {
    return sendAutoSubmitForm(reply, ctx.urls.authorize, { ...formFields(raw), [repostMarker]: '1' })
  }
  try {
    const clientId = authorization.client.client_id
    const session = prefetched?.clientId === clientId ? prefetched.session : undefined
    const decision = await decide(ctx, authorization, await browserSessionWithGrant(deps, request, clientId, session))
    return await act(deps, decision, authorization, request, reply, 302)
  } catch (error) {
    return respondOnError(ctx, reply, error, authorization, 302)
  }
}
