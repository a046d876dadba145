import type { FastifyRequest } from 'fastify'

/** The error codes of RFC 6750 §3.1, plus 503 when the issuer cannot be asked. */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'temporarily_unavailable' | 'invalid_dpop_proof'

/** The authentication schemes a token is presented with: RFC 6750 §2.1 and RFC 9449 §7.1. */
export type TokenScheme = 'Bearer' | 'DPoP'

/**
 * A refused request: the status, the RFC 6750 §3 challenge and the JSON body. Thrown by
 * `verifyRequest`; `requireToken` answers with it.
 */
export class BearerChallengeError extends Error {
  readonly statusCode: number
  readonly headers: Record<string, string>
  readonly error: BearerErrorCode | undefined

  constructor (statusCode: number, error: BearerErrorCode | undefined, description: string | undefined, headers: Record<string, string>) {
    super(description ?? 'an access token is required')
    this.name = 'BearerChallengeError'
    this.statusCode = statusCode
    this.error = error
    this.headers = headers
  }

  /** `{ error, error_description }`; no body members for a request without a token (RFC 6750 §3.1). */
  toJSON (): { error?: string, error_description?: string } {
    return this.error === undefined ? {} : { error: this.error, error_description: this.message }
  }
}

/** What goes into a challenge. Values are quoted-strings: they never contain `"` or `\`. */
export interface ChallengeParams {
  error?: BearerErrorCode
  description?: string
  /** The scopes the route needs (RFC 6750 §3). */
  scope?: readonly string[]
  /** RFC 9728 §5.1: where the client finds this resource's metadata. */
  resourceMetadata: string
}

/**
 * `WWW-Authenticate: Bearer ...` (RFC 6750 §3, RFC 9728 §5.1). One function per scheme, so a
 * DPoP challenge (RFC 9449 §7.1) can sit beside it.
 *
 * @example
 * bearerChallenge({ error: 'insufficient_scope', description: 'needs notes:write', scope: ['notes:write'], resourceMetadata })
 * // Bearer error="insufficient_scope", error_description="needs notes:write", scope="notes:write", resource_metadata="https://api.example/.well-known/oauth-protected-resource"
 */
export function bearerChallenge (params: ChallengeParams): string {
  const members: string[] = []
  if (params.error !== undefined) members.push(`error="${params.error}"`)
  if (params.description !== undefined) members.push(`error_description="${quotable(params.description)}"`)
  if (params.scope !== undefined && params.scope.length > 0) members.push(`scope="${params.scope.join(' ')}"`)
  members.push(`resource_metadata="${params.resourceMetadata}"`)
  return `Bearer ${members.join(', ')}`
}

/**
 * `WWW-Authenticate: DPoP algs="...", ...` (RFC 9449 §7.1): the same members as the Bearer
 * challenge, plus the proof algorithms this resource accepts.
 *
 * @example
 * dpopChallenge({ error: 'invalid_dpop_proof', description: 'the DPoP proof htu does not match the request URL', resourceMetadata }, ['ES256'])
 * // DPoP algs="ES256", error="invalid_dpop_proof", error_description="...", resource_metadata="..."
 */
export function dpopChallenge (params: ChallengeParams, algorithms: readonly string[]): string {
  return `DPoP algs="${algorithms.join(' ')}", ${bearerChallenge(params).slice('Bearer '.length)}`
}

/** RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E. */
function quotable (text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '')
}

/** What a request carries: nothing, a token in a scheme, or something malformed. */
export type PresentedToken =
  | { kind: 'none' }
  | { kind: 'token', scheme: TokenScheme, token: string }
  | { kind: 'malformed', description: string, scheme: TokenScheme }

/**
 * RFC 6750 §2.1: the token from `Authorization: Bearer <b64token>` (the only method this plugin
 * supports, as its metadata says: `bearer_methods_supported: ["header"]`), or RFC 9449 §7.1's
 * `Authorization: DPoP <b64token>`. Another scheme is no credential of this plugin's.
 */
export function presentedToken (request: FastifyRequest): PresentedToken {
  const header = request.headers.authorization
  if (header === undefined || header === '') return { kind: 'none' }
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header)
  if (match !== null) return { kind: 'token', scheme: 'Bearer', token: match[1] as string }
  if (/^Bearer(\s|$)/i.test(header)) return { kind: 'malformed', description: 'the Authorization header is not a valid Bearer credential', scheme: 'Bearer' }
  const dpop = /^DPoP +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header)
  if (dpop !== null) return { kind: 'token', scheme: 'DPoP', token: dpop[1] as string }
  if (/^DPoP(\s|$)/i.test(header)) return { kind: 'malformed', description: 'the Authorization header is not a valid DPoP credential', scheme: 'DPoP' }
  return { kind: 'none' }
}
