import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, UnsecuredJWT, type JWTPayload } from 'jose'
import type { ClientRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'
import { nowSeconds, sha256 } from '../tokens/crypto.js'
import { assertionAlgorithms } from '../tokens/assertion-algorithms.js'
import { AssertionError, clientKeys } from './assertion.js'

/** Clock skew allowed on `exp`, `nbf` and `iat`, as for client assertions. */
const clockSkew = 30
/** How long a `jti` is remembered when the object has no `exp` (an object without one never expires otherwise). */
const jtiMemorySeconds = 3600
/** RFC 9101 §4: the media type a request object may declare (`typ`); `JWT` and none are common. */
const acceptedTypes = new Set(['oauth-authz-req+jwt', 'JWT', 'jwt'])

/** A refused request object: RFC 9101 §6.3 / OIDC Core §3.1.2.6 `invalid_request_object`, sent to the redirect_uri. */
export function invalidRequestObject (description: string): OAuthError {
  return new OAuthError('invalid_request_object', description, { allowRedirect: true, statusCode: 400 })
}

/** What a request object turned out to be: its claims, and whether it was signed. */
export interface VerifiedRequestObject {
  claims: JWTPayload
  signed: boolean
}

/**
 * Verifies a request object (OIDC Core §6.1, RFC 9101 §4, §6) sent by `client`:
 * - signed with an asymmetric algorithm (the client's `request_object_signing_alg` when it
 *   registered one) by one of the client's registered keys (`jwks`, or `jwks_uri` through the
 *   cached SSRF-safe fetch: the key machinery of `private_key_jwt`); `alg: none` only when the
 *   host allows unsigned objects and neither the host nor the client requires signed ones
 *   (RFC 9101 §10.5);
 * - `iss` the client_id and `aud` the issuer (required when signed: RFC 9101 §10.2 lets a signed
 *   object be trusted only for its intended audience; checked when present in unsigned ones);
 * - `exp`, `nbf` and `iat` when present, with 30 s of skew; `jti`, when present, single use until
 *   `exp` (or an hour), recorded in the store so a replay fails on every instance.
 * Everything refused is `invalid_request_object`.
 *
 * @example
 * const { claims, signed } = await verifyRequestObject(ctx, client, params.request)
 */
export async function verifyRequestObject (ctx: ProviderContext, client: ClientRecord, requestObject: string): Promise<VerifiedRequestObject> {
  let header
  try {
    header = decodeProtectedHeader(requestObject)
  } catch {
    throw invalidRequestObject('request is not a JWT (encrypted request objects are not supported)')
  }
  const alg = header.alg
  if (typeof alg !== 'string') throw invalidRequestObject('the request object has no alg')
  if (header.typ !== undefined && !acceptedTypes.has(header.typ)) throw invalidRequestObject('the request object typ must be oauth-authz-req+jwt (RFC 9101 section 4)')
  const settings = ctx.options.requestObjects
  const mustBeSigned = settings.requireSigned || client.require_signed_request_object === true
  const registered = client.request_object_signing_alg
  const audience = ctx.issuer
  const verify = { issuer: client.client_id, audience, clockTolerance: clockSkew }

  let claims: JWTPayload
  if (alg === 'none') {
    if (!settings.allowUnsigned || mustBeSigned || (registered !== undefined && registered !== 'none')) {
      throw invalidRequestObject('unsigned request objects are not accepted for this client')
    }
    claims = decodeUnsigned(requestObject)
    // OIDC Core §6.1: iss and aud "SHOULD" be there; when they are, they must be right.
    if (claims.iss !== undefined && claims.iss !== client.client_id) throw invalidRequestObject('the request object iss must be the client_id')
    if (claims.aud !== undefined && ![claims.aud].flat().includes(audience)) throw invalidRequestObject('the request object aud must be the issuer')
    checkTimes(claims)
  } else {
    const allowed = registered === undefined || registered === 'none' ? assertionAlgorithms : [registered]
    if (!allowed.includes(alg)) throw invalidRequestObject(`the request object alg must be one of ${allowed.join(', ')}`)
    let keys
    try {
      keys = await clientKeys(ctx, client, typeof header.kid === 'string' ? header.kid : undefined)
    } catch (error) {
      if (error instanceof AssertionError) throw invalidRequestObject(`the request object cannot be verified: ${error.description}`)
      throw error
    }
    try {
      ({ payload: claims } = await jwtVerify(requestObject, createLocalJWKSet({ keys: keys as Parameters<typeof createLocalJWKSet>[0]['keys'] }), {
        ...verify,
        algorithms: [...allowed],
        requiredClaims: ['iss', 'aud'],
      }))
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'invalid'
      throw invalidRequestObject(`the request object was refused (${code.replace(/^ERR_/, '').toLowerCase()})`)
    }
    checkTimes(claims)
  }
  if (claims.jti !== undefined) await consumeJti(ctx, client, claims)
  return { claims, signed: alg !== 'none' }
}

function decodeUnsigned (requestObject: string): JWTPayload {
  try {
    return UnsecuredJWT.decode(requestObject, { clockTolerance: clockSkew }).payload
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'invalid'
    throw invalidRequestObject(`the request object was refused (${code.replace(/^ERR_/, '').toLowerCase()})`)
  }
}

/** `exp` and `nbf` were checked by jose when present; `iat` must not be in the future. */
function checkTimes (claims: JWTPayload): void {
  for (const name of ['exp', 'nbf', 'iat'] as const) {
    if (claims[name] !== undefined && typeof claims[name] !== 'number') throw invalidRequestObject(`the request object ${name} must be a number`)
  }
  if (claims.iat !== undefined && claims.iat > nowSeconds() + clockSkew) throw invalidRequestObject('the request object iat is in the future')
}

/** RFC 7519 §4.1.7 (`jti` "can be used to prevent the JWT from being replayed"): once per client, across instances (the store's `markUsed`). */
async function consumeJti (ctx: ProviderContext, client: ClientRecord, claims: JWTPayload): Promise<void> {
  const jti = claims.jti
  if (typeof jti !== 'string' || jti === '' || jti.length > 256) throw invalidRequestObject('the request object jti must be a string')
  const now = nowSeconds()
  const until = (typeof claims.exp === 'number' ? Math.max(claims.exp, now) : now + jtiMemorySeconds) + clockSkew
  const fresh = await ctx.store.markUsed(`request-object:${sha256(`${client.client_id}:${jti}`)}`, until)
  if (!fresh) throw invalidRequestObject('the request object was already used (jti replay)')
}
