import type { ClientRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'
import { parseAuthorizationRequest, type RequestSource } from './authorization-request.js'
import { serializeRequest, storedParams } from './stored-request.js'
import { consumePushedRequest, requestUriPrefix, savePushedRequest } from './par-store.js'
import type { AuthorizationRequest, RawParams } from './types.js'

/**
 * RFC 9126 §2.1: "The AS MUST validate the pushed request as it would an authorization request
 * sent to the authorization endpoint": the same parser as /authorize, with the authenticated
 * client. A refused request is thrown, to be answered as JSON (§2.3), never redirected.
 *
 * @example
 * const authorization = await parsePushedRequest(ctx, client, body)
 */
export async function parsePushedRequest (ctx: ProviderContext, client: ClientRecord, body: RawParams): Promise<AuthorizationRequest> {
  const parsed = await parseAuthorizationRequest(ctx, { ...body, client_id: client.client_id }, { via: 'par', client })
  if (!parsed.ok) throw parsed.error
  return parsed.request
}

/**
 * Keeps a validated pushed request (RFC 9126 §2.2) and returns its single-use `request_uri`.
 * A DPoP proof sent with the push binds the code to its key (RFC 9449 §10.1).
 *
 * @example
 * const { requestUri, expiresIn } = await storePushedRequest(ctx, authorization, proofJkt)
 */
export async function storePushedRequest (ctx: ProviderContext, request: AuthorizationRequest, proofJkt: string | undefined): Promise<{ requestUri: string, expiresIn: number }> {
  if (proofJkt !== undefined) {
    // RFC 9449 §10.1: with both, the proof's key must be the one dpop_jkt names.
    if (request.dpopJkt !== undefined && request.dpopJkt !== proofJkt) {
      throw new OAuthError('invalid_dpop_proof', 'dpop_jkt does not match the DPoP proof key')
    }
    request.dpopJkt = proofJkt
  }
  return await savePushedRequest(ctx, { clientId: request.client.client_id, params: serializeRequest(request) }, ctx.options.par.ttl)
}

/** RFC 9126 §4: what may accompany `request_uri` at /authorize. Anything else is refused. */
const allowedWithRequestUri = new Set(['client_id', 'request_uri'])

/**
 * The parameters an authorization request stands for. With one of our `request_uri`s (RFC 9126
 * §4) and `client_id`, nothing else: the pushed request, taken once, atomically, to be parsed
 * again as `pushed` (it was validated when pushed; the client may have changed since). Any
 * other request is returned as it came (a foreign `request_uri` is then refused by the parser
 * as `request_uri_not_supported`). An unknown, expired, used or another client's request URI
 * is `invalid_request_uri`, shown as a page: the redirect_uri it held cannot be trusted any more.
 *
 * @example
 * const { params, via } = await resolvePushedRequest(ctx, request.query as RawParams, 'query')
 */
export async function resolvePushedRequest (ctx: ProviderContext, params: RawParams, via: 'query' | 'form'): Promise<{ params: RawParams, via: RequestSource }> {
  const requestUri = params.request_uri
  if (typeof requestUri !== 'string' || !requestUri.startsWith(requestUriPrefix)) return { params, via }
  const extra = Object.keys(params).find((name) => !allowedWithRequestUri.has(name))
  if (extra !== undefined) {
    throw new OAuthError('invalid_request', `parameter "${extra.slice(0, 40).replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?')}" must be pushed, not sent with request_uri (RFC 9126 section 4)`)
  }
  if (typeof params.client_id !== 'string' || params.client_id === '') {
    throw new OAuthError('invalid_request', 'client_id is required with request_uri (RFC 9126 section 4)')
  }
  const pushed = await consumePushedRequest(ctx, requestUri)
  if (pushed === undefined || pushed.clientId !== params.client_id) {
    throw new OAuthError('invalid_request_uri', 'the request_uri is unknown, expired, already used or was pushed by another client')
  }
  return { params: storedParams(pushed.params), via: 'pushed' }
}
