import type { FastifyRequest } from 'fastify'
import { OAuthError } from '../errors.js'

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token (the scheme is case-insensitive).
const bearerPattern = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i
const schemePattern = /^Bearer(?: |$)/i

/**
 * The Bearer token of the request's `Authorization` header, for the registration endpoints
 * (RFC 7591 §3 initial access token, RFC 7592 §2 registration access token).
 *
 * RFC 6750 §3.1: without credentials the answer is 401 with a bare `WWW-Authenticate: Bearer`
 * challenge (no error attribute); a malformed Bearer header is 400 `invalid_request`.
 */
export function bearerToken (request: FastifyRequest): string {
  const header = request.headers.authorization
  if (header === undefined || !schemePattern.test(header)) {
    throw new OAuthError('invalid_token', 'a Bearer token is required', {
      headers: { 'www-authenticate': 'Bearer' },
    })
  }
  const match = bearerPattern.exec(header)
  if (match?.[1] === undefined) {
    throw new OAuthError('invalid_request', 'the Authorization header is not a well-formed Bearer credential', {
      headers: { 'www-authenticate': 'Bearer error="invalid_request"' },
    })
  }
  return match[1]
}

/** RFC 6750 §3.1: the token is unknown, expired or does not grant access to this resource. */
export function invalidToken (description: string): OAuthError {
  return new OAuthError('invalid_token', description, {
    headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${description}"` },
  })
}
