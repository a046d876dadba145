import type { FastifyRequest } from 'fastify'
import { OAuthError } from '../../contracts/errors.js'
import { parseBearerHeader } from '../../tokens/verify.js'

/**
 * The Bearer token of the request's `Authorization` header, for the registration endpoints
 * (RFC 7591 §3 initial access token, RFC 7592 §2 registration access token).
 *
 * RFC 6750 §3.1: without credentials the answer is 401 with a bare `WWW-Authenticate: Bearer`
 * challenge (no error attribute); a malformed Bearer header is 400 `invalid_request`.
 */
export function bearerToken (request: FastifyRequest): string {
  const credential = parseBearerHeader(request.headers.authorization)
  if (credential.kind === 'none') {
    throw new OAuthError('invalid_token', 'a Bearer token is required', {
      challenge: { scheme: 'Bearer', describe: false },
    })
  }
  if (credential.kind === 'malformed') {
    throw new OAuthError('invalid_request', 'the Authorization header is not a well-formed Bearer credential', {
      challenge: { scheme: 'Bearer' },
    })
  }
  return credential.token
}

/** RFC 6750 §3.1: the token is unknown, expired or does not grant access to this resource. */
export function invalidToken (description: string): OAuthError {
  return new OAuthError('invalid_token', description, {
    challenge: { scheme: 'Bearer' },
  })
}
