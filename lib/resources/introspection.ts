import type { FastifyRequest } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'
import { safeEqualDigests, sha256 } from '../tokens/crypto.js'
import { onClientAuthFailure, onClientAuthSuccess, parseBasic, refuseLockedClient, type ClientAuthBody } from '../clients/authenticate.js'
import { verifyAccessTokenPayload, type VerifiedAccessToken } from '../tokens/verify.js'
import type { KnownResource } from '../contracts/resources.js'

/**
 * RFC 7662 §2.1: "the protected resource" calls introspection with its own credentials. When the
 * caller's client_id (Basic or body, RFC 6749 §2.3.1) names a resource server's introspection
 * credentials, the secret is checked here, in constant time against its hash, with the same
 * failure limits as client authentication; otherwise undefined and the caller authenticates as
 * a client as before.
 *
 * @example
 * const server = await authenticateResourceServer(ctx, request, request.body)
 * if (server !== undefined) return describe(await findResourceServerToken(ctx, token, server))
 */
export async function authenticateResourceServer (
  ctx: ProviderContext,
  request: FastifyRequest,
  body: ClientAuthBody
): Promise<KnownResource | undefined> {
  if (!ctx.resources.hasIntrospectionClients) return undefined
  const header = request.headers.authorization
  const basic = header === undefined ? undefined : parseBasic(header)
  // A malformed header, two methods at once, ...: client authentication gives the right error.
  if (header !== undefined && (basic === undefined || body.client_secret !== undefined)) return undefined
  const clientId = basic?.clientId ?? body.client_id
  const secret = basic?.secret ?? body.client_secret
  if (clientId === undefined || clientId === '') return undefined
  const server = await ctx.resources.findByIntrospectionClient(clientId)
  if (server?.introspection === undefined) return undefined

  const hasFailures = await refuseLockedClient(ctx, clientId, request.ip)
  // Compared even without a secret, so every failure costs the same.
  const matches = safeEqualDigests(sha256(secret ?? ''), server.introspection.clientSecretHash)
  if (secret === undefined || !matches) {
    await onClientAuthFailure(ctx, { clientId, ip: request.ip, endpoint: 'introspect' })
    throw new OAuthError('invalid_client', 'client authentication failed', {
      statusCode: 401,
      ...(basic === undefined ? {} : { headers: { 'www-authenticate': `Basic realm="${ctx.issuer}"` } }),
    })
  }
  if (hasFailures) await onClientAuthSuccess(ctx, clientId)
  return server
}

/**
 * The access token a resource server asked about, when it is live and its `aud` names that
 * resource server; anything else (another audience, a refresh token, a revoked or unknown token)
 * is undefined, answered `{"active":false}` (RFC 7662 §2.2, §4: nothing leaks about other tokens).
 */
export async function findResourceServerToken (ctx: ProviderContext, token: string, server: KnownResource): Promise<VerifiedAccessToken | undefined> {
  const verified = await verifyAccessTokenPayload(ctx, token)
  if (verified === undefined || ![verified.claims.aud].flat().includes(server.resource)) return undefined
  return verified
}
