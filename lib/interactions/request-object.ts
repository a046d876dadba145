import type { ClientRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { invalidRequestObject, verifyRequestObject } from '../clients/request-object.js'
import { redirectError } from './errors.js'
import type { RawParams } from './types.js'

/** JWT claims of the object itself (RFC 7519 §4.1), not authorization request parameters. */
const objectClaims = new Set(['iss', 'aud', 'exp', 'nbf', 'iat', 'jti', 'sub'])

/** The parameters a request stands for once its request object is opened, and whether it was signed. */
export interface ExpandedRequest {
  params: RawParams
  signed: boolean
}

/**
 * OIDC Core §6.1 and §6.3.3, RFC 9101 §5 and §6: verifies the `request` parameter of `client`'s
 * authorization request and returns the parameters the request stands for: those of the object,
 * which win over the same ones outside it (the conformance suite's
 * oidcc-ensure-request-object-with-redirect-uri sends a wrong `redirect_uri` outside), plus the
 * outside ones the object lacks (OIDC Core §6.1: `scope` with `openid` and `response_type` are
 * repeated outside). `client_id` and `response_type` inside must equal the outside ones (OIDC
 * Core §6.1 "MUST match", RFC 9101 §5); `request`/`request_uri` never nest (RFC 9101 §4).
 * Throws `invalid_request_object` (or `invalid_request`), for the redirect_uri.
 *
 * @example
 * const { params: effective, signed } = await expandRequestObject(ctx, client, params)
 */
export async function expandRequestObject (ctx: ProviderContext, client: ClientRecord, params: RawParams): Promise<ExpandedRequest> {
  const requestObject = params.request
  if (typeof requestObject !== 'string') throw redirectError('invalid_request', 'parameter "request" must appear once')
  // RFC 9101 §5: one of request or request_uri, never both.
  if (params.request_uri !== undefined) throw redirectError('invalid_request', 'request and request_uri must not both be sent')
  const { claims, signed } = await verifyRequestObject(ctx, client, requestObject)
  const inside: RawParams = {}
  for (const [name, value] of Object.entries(claims)) {
    if (objectClaims.has(name)) continue
    if (name === 'request' || name === 'request_uri') throw invalidRequestObject(`a request object must not contain ${name} (RFC 9101 section 4)`)
    inside[name] = parameterValue(name, value)
  }
  if (inside.client_id !== undefined && inside.client_id !== params.client_id) {
    throw invalidRequestObject('the request object client_id does not match the client_id parameter')
  }
  if (inside.response_type !== undefined && params.response_type !== undefined && params.response_type !== '' && inside.response_type !== params.response_type) {
    throw invalidRequestObject('the request object response_type does not match the response_type parameter')
  }
  const outside: RawParams = { ...params }
  delete outside.request
  return { params: { ...outside, ...inside }, signed }
}

/**
 * A claim as the parser reads parameters: strings as they are, numbers and booleans as their
 * text (`max_age`), the `claims` request (OIDC Core §5.5) as JSON, `resource` (RFC 8707) as a
 * list of strings. Anything else cannot be an authorization request parameter.
 */
function parameterValue (name: string, value: unknown): string | string[] {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (name === 'claims' && typeof value === 'object' && value !== null && !Array.isArray(value)) return JSON.stringify(value)
  if (name === 'resource' && Array.isArray(value) && value.every((item) => typeof item === 'string')) return value as string[]
  throw invalidRequestObject(`the request object member '${name.slice(0, 40).replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?')}' has an unusable value`)
}
