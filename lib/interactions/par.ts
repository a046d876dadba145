import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'
import { pushedRequest, type RawParams } from './request.js'
import { consumePushedRequest, requestUriPrefix } from './par-store.js'

/** RFC 9126 §4: what may accompany `request_uri` at /authorize. Anything else is refused. */
const allowedWithRequestUri = new Set(['client_id', 'request_uri'])

/**
 * `/authorize` with a pushed request (RFC 9126 §4): `request_uri` (one of ours) and `client_id`,
 * nothing else. The pushed request is taken once, atomically; the parameters it held are
 * returned, marked as pushed, and validated again by the usual validator. Any other request
 * is returned as is (a foreign `request_uri` is then refused as `request_uri_not_supported`).
 * An unknown, expired, used or another client's request URI is `invalid_request_uri`, shown
 * as a page: the redirect_uri it held cannot be trusted any more.
 *
 * @example
 * const params = await resolvePushedRequest(ctx, request.query as RawParams)
 */
export async function resolvePushedRequest (ctx: ProviderContext, params: RawParams): Promise<RawParams> {
  const requestUri = params.request_uri
  if (typeof requestUri !== 'string' || !requestUri.startsWith(requestUriPrefix)) return params
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
  return { ...pushed.params, response_type: 'code', [pushedRequest]: true }
}
