import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import { routes } from '../contracts/urls.js'
import { OAuthError, wwwAuthenticate, type OAuthErrorCode } from '../contracts/errors.js'
import { parseBearerHeader, verifyAccessToken } from '../tokens/verify.js'
import { filterClaims } from '../tokens/scopes.js'
import type { ClaimsContext } from '../contracts/claims.js'
import { scopeSet } from '../tokens/issue.js'
import { noStore, requireFormBody } from '../http/forms.js'
import { isProviderAudience } from '../resources/resolve.js'
import { allowCorsFor } from '../http/cors.js'
import { checkSenderConstraint, dpopAuthorization, dpopChallenge } from '../tokens/dpop.js'
import { dpopAlgorithms } from '../tokens/dpop-proof.js'

/**
 * The UserInfo endpoint (OpenID Connect Core §5.3), a protected resource (RFC 6750): GET or POST,
 * the access token in the Authorization header or, for POST, in a form body (RFC 6750 §2.1–2.2).
 */
export async function userinfoRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  // RFC 6750 §3.1 and RFC 9449 §7.1: a request without credentials learns both schemes the
  // endpoint accepts (Bearer, and DPoP for sender-constrained tokens, with its algorithms).
  const bareChallenge = `${wwwAuthenticate({ scheme: 'Bearer', realm: ctx.issuer })}, DPoP algs="${dpopAlgorithms.join(' ')}"`

  /** RFC 6750 §3: the challenge names the error so clients can tell "refresh" from "re-consent". */
  const bearerError = (error: OAuthErrorCode, description: string, params?: Record<string, string>): OAuthError =>
    new OAuthError(error, description, {
      challenge: { scheme: 'Bearer', realm: ctx.issuer, ...(params === undefined ? {} : { params }) },
    })

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    // RFC 9449 §7.1: `Authorization: DPoP <token>` with a DPoP proof, for sender-constrained tokens.
    const dpopToken = dpopAuthorization(request)
    const token = dpopToken ?? readToken(request, bearerError)
    if (token === undefined) {
      // RFC 6750 §3.1: no credentials at all → a bare challenge, without an error code.
      noStore(reply)
      reply.code(401).header('www-authenticate', bareChallenge)
      return await reply.send()
    }
    const claims = await verifyAccessToken(ctx, token)
    if (claims === undefined) {
      if (dpopToken !== undefined) throw dpopChallenge('invalid_token', 'the access token is invalid, expired or revoked')
      throw bearerError('invalid_token', 'the access token is invalid, expired or revoked')
    }
    allowCorsFor(request, claims.client_id)
    await checkSenderConstraint(ctx, request, claims, token, dpopToken !== undefined, ctx.urls.userinfo)
    // RFC 8707 §2 / RFC 9068 §4: a token bound to another resource (an API) is not for userinfo.
    if (!isProviderAudience(ctx, claims.aud)) throw bearerError('invalid_token', 'the access token was issued for another resource')
    const scopes = scopeSet(claims.scope)
    if (!scopes.has('openid')) {
      throw bearerError('insufficient_scope', 'the access token was not granted the openid scope', { scope: 'openid' })
    }
    // No client lookup here (one store read per call on a hot path): the adapter gets its id.
    const context: ClaimsContext = { kind: 'userinfo', client: { clientId: claims.client_id }, accountId: claims.sub, scopes }
    const user = await ctx.users.claims(claims.sub, scopes, context)
    // The user is gone (deleted account): the token no longer speaks for anyone.
    if (user === null) throw bearerError('invalid_token', 'the access token is invalid, expired or revoked')
    noStore(reply)
    // OpenID Connect Core §5.3.2: `sub` must be the token's, whatever the adapter returned.
    // OIDC Core §5.5: plus the individual claims the authorization request asked for here.
    return { ...filterClaims(user, scopes, ctx.options.scopeRegistry, claims.userinfo_claims), sub: claims.sub }
  }

  // OIDC Core §5.3.2: `sub` always, the released claims beside it (compiled serializer).
  const schema = { response: { 200: { type: 'object', properties: { sub: { type: 'string' } }, additionalProperties: true } } }
  app.get(routes.userinfo, { schema }, handler)
  app.post(routes.userinfo, { schema, preValidation: requireFormBody }, handler)
}

/** The token from exactly one place; undefined when the request carries none. */
function readToken (
  request: FastifyRequest,
  bearerError: (error: OAuthErrorCode, description: string) => OAuthError
): string | undefined {
  const query = request.query as Record<string, unknown> | undefined
  if (query?.access_token !== undefined) {
    // RFC 6750 §2.3 (URI query) is not supported: tokens in URLs end up in logs and Referer.
    throw bearerError('invalid_request', 'access_token in the URI query is not accepted; use the Authorization header')
  }
  const header = parseBearerHeader(request.headers.authorization)
  if (header.kind === 'malformed') throw bearerError('invalid_request', 'the Authorization header is not a valid Bearer credential')
  const body = request.body as Record<string, unknown> | undefined | null
  const fromBody = typeof body === 'object' && body !== null ? body.access_token : undefined
  if (fromBody !== undefined && typeof fromBody !== 'string') {
    throw bearerError('invalid_request', 'access_token must be sent once')
  }
  if (header.kind === 'bearer' && fromBody !== undefined) {
    // RFC 6750 §2: "Clients MUST NOT use more than one method to transmit the token in each request."
    throw bearerError('invalid_request', 'the access token was sent both in the header and in the body')
  }
  if (header.kind === 'bearer') return header.token
  return fromBody === '' ? undefined : fromBody
}
