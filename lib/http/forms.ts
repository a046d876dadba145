import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { OAuthError } from '../contracts/errors.js'

const formType = /^application\/x-www-form-urlencoded\s*(;|$)/i

/**
 * preValidation hook for the back-channel endpoints: RFC 6749 §3.2, RFC 7009 §2.1, RFC 7662 §2.1
 * and RFC 6750 §2.2 all define their parameters as `application/x-www-form-urlencoded`. A JSON
 * body (which the provider parses for registration) is refused with 415 rather than half-read.
 * A request with no body at all goes on to schema validation, which names what is missing.
 */
export function requireFormBody (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  // A callback hook, not an async one: no promise per request on the back-channel endpoints.
  const type = request.headers['content-type']
  if (type !== undefined && !formType.test(type)) {
    done(new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded', { statusCode: 415 }))
    return
  }
  done()
}

/** RFC 6749 §5.1 (and RFC 6750 §5.3, RFC 7662 §4): responses carrying tokens are never cached. */
export function noStore (reply: FastifyReply): void {
  reply.header('cache-control', 'no-store')
  reply.header('pragma', 'no-cache')
}

/** The browser endpoints accept only HTML forms (the same media type rule as `requireFormBody`). */
export function formBody (request: FastifyRequest): Record<string, unknown> {
  if (!formType.test(request.headers['content-type'] ?? '')) {
    throw new OAuthError('invalid_request', 'expected an HTML form (application/x-www-form-urlencoded)', { statusCode: 415 })
  }
  const body = request.body
  return typeof body === 'object' && body !== null ? body as Record<string, unknown> : {}
}
