import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { OAuthError, StoreUnavailableError } from '../contracts/errors.js'
import { renderPage } from './pages/render.js'

/**
 * Maps anything thrown in a route to an RFC-shaped error. Only `error` and `error_description`
 * reach the client; causes of 5xx are logged, never sent.
 */
export function toOAuthError (error: unknown): OAuthError {
  if (error instanceof OAuthError) return error
  if (error instanceof StoreUnavailableError) {
    return new OAuthError('temporarily_unavailable', 'the service is temporarily unavailable, retry later', {
      headers: { 'retry-after': '5' },
      cause: error,
    })
  }
  const fastifyError = error as Partial<FastifyError>
  if (Array.isArray(fastifyError.validation)) {
    return new OAuthError('invalid_request', describeValidation(fastifyError as FastifyError))
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new OAuthError('invalid_request', 'request body is too large', { statusCode: 413 })
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new OAuthError('invalid_request', 'unsupported content type', { statusCode: 415 })
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new OAuthError('invalid_request', 'invalid content length', { statusCode: 400 })
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new OAuthError('invalid_request', 'the JSON body is empty')
    default:
      break
  }
  const status = fastifyError.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Parser errors (malformed JSON, forbidden __proto__ keys, bad encodings) land here.
    return new OAuthError('invalid_request', 'the request could not be parsed', { statusCode: status })
  }
  return new OAuthError('server_error', 'the server encountered an unexpected condition', { cause: error })
}

function describeValidation (error: FastifyError): string {
  const first = error.validation?.[0]
  const where = error.validationContext ?? 'request'
  if (first === undefined) return `invalid ${where}`
  const path = first.instancePath.replace(/^\//, '').replaceAll('/', '.')
  const params = first.params as { requiredProperties?: string[], missingProperty?: string }
  const missing = params.requiredProperties?.[0] ?? params.missingProperty
  if (missing !== undefined) return `${where}: missing parameter '${missing}'`
  return `${where}${path === '' ? '' : ` parameter '${path}'`} ${first.message ?? 'is invalid'}`
}

/** Browser-facing routes set `config: { html: true }`: their errors render as a page, not JSON. */
declare module 'fastify' {
  interface FastifyContextConfig {
    html?: boolean
  }
}

export async function errorHandler (error: unknown, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const oauthError = toOAuthError(error)
  if (oauthError.statusCode >= 500) {
    const cause = oauthError.error === 'server_error' ? error : (error as Error).cause ?? error
    request.log.error({ err: cause }, `fastify-oidc-provider: ${oauthError.error}`)
  }
  reply.code(oauthError.statusCode)
  reply.headers(oauthError.headers)
  reply.header('cache-control', 'no-store')
  reply.header('pragma', 'no-cache')
  if (request.routeOptions.config?.html === true) {
    await renderPage(reply, 'error', {
      title: oauthError.statusCode >= 500 ? 'Something went wrong' : 'This request cannot be completed',
      error: oauthError.error,
      description: oauthError.error_description,
    })
    return
  }
  await reply.type('application/json; charset=utf-8').send(oauthError.toJSON())
}
