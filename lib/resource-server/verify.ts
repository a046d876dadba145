import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import { UpstreamUnavailableError } from './upstream.js'

/** RFC 9068 §2.1: the `typ` of JWT access tokens. */
const accessTokenType = 'at+jwt'

/** The claims of a verified RFC 9068 access token. */
export interface AccessTokenPayload extends JWTPayload {
  iss: string
  sub: string
  aud: string | string[]
  exp: number
  iat: number
  jti: string
  client_id: string
  scope?: string
  auth_time?: number
  /** RFC 9449 §6.1: the key a DPoP-bound token is bound to. */
  cnf?: { jkt?: string }
}

/** Why a token was refused: `invalid` is 401 `invalid_token`, `unavailable` is 503. */
export type VerifyFailure = { kind: 'invalid', description: string } | { kind: 'unavailable', cause: unknown }

export type VerifyResult = { ok: true, claims: AccessTokenPayload } | { ok: false, failure: VerifyFailure }

export interface VerifyOptions {
  issuer: string
  /** The accepted audiences (this resource, normalised and as configured). */
  audience: string[]
  algorithms: string[]
  clockTolerance: number
  getKey: JWTVerifyGetKey
}

/**
 * RFC 9068 §4: `typ` is `at+jwt` (an ID token, `typ: JWT`, is refused), `iss` is the issuer,
 * `aud` names this resource, `exp`/`nbf` hold within the tolerance, and the signature is by one
 * of the issuer's keys with an allowed asymmetric `alg` (so `none` and an HS256 token "signed"
 * with the public key both fail). Never throws.
 */
export async function verifyJwtAccessToken (token: string, options: VerifyOptions): Promise<VerifyResult> {
  // Cheap shape check: garbage never reaches the key lookup (nor a JWKS refetch).
  if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) return invalid('the access token is not a JWT')
  try {
    const { payload } = await jwtVerify(token, options.getKey, {
      issuer: options.issuer,
      audience: options.audience,
      algorithms: options.algorithms,
      typ: accessTokenType,
      clockTolerance: options.clockTolerance,
      requiredClaims: ['exp', 'iat', 'sub', 'jti', 'client_id'],
    })
    if (typeof payload.client_id !== 'string' || typeof payload.sub !== 'string' || typeof payload.jti !== 'string' ||
      (payload.scope !== undefined && typeof payload.scope !== 'string') || !validConfirmation(payload.cnf)) return invalid('the access token has malformed claims')
    return { ok: true, claims: payload as AccessTokenPayload }
  } catch (error) {
    return { ok: false, failure: classify(error) }
  }
}

/** RFC 7800 §3.1: `cnf` is an object; its `jkt` (RFC 9449 §6.1), if any, a thumbprint string. */
function validConfirmation (cnf: unknown): boolean {
  if (cnf === undefined) return true
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return false
  const jkt = (cnf as Record<string, unknown>).jkt
  return jkt === undefined || (typeof jkt === 'string' && jkt !== '')
}

function invalid (description: string): VerifyResult {
  return { ok: false, failure: { kind: 'invalid', description } }
}

function classify (error: unknown): VerifyFailure {
  if (error instanceof UpstreamUnavailableError) return { kind: 'unavailable', cause: error }
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return { kind: 'unavailable', cause: error }
  if (error instanceof errors.JWTExpired) return { kind: 'invalid', description: 'the access token expired' }
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'aud': return { kind: 'invalid', description: 'the access token is not for this resource' }
      case 'iss': return { kind: 'invalid', description: 'the access token is from another issuer' }
      case 'typ': return { kind: 'invalid', description: 'the token is not an access token (typ at+jwt)' }
      case 'nbf': return { kind: 'invalid', description: 'the access token is not valid yet' }
      default: return { kind: 'invalid', description: 'the access token has invalid claims' }
    }
  }
  if (error instanceof errors.JOSEError) return { kind: 'invalid', description: 'the access token is invalid' }
  // fetch() failing inside jose's remote set (connection refused, DNS): the issuer is down.
  return { kind: 'unavailable', cause: error }
}
