import type { FastifyInstance } from 'fastify'
import Type, { type Static } from 'typebox'
import type { ProviderContext } from '../contracts/context.js'
import { routes } from '../contracts/urls.js'
import { authenticateClient } from '../clients/authenticate.js'
import { findClientToken } from '../tokens/lookup.js'
import { noStore, requireFormBody } from '../http/forms.js'
import { allowCorsFor } from '../http/cors.js'

const RevokeBody = Type.Object({
  token: Type.String({ minLength: 1 }),
  // RFC 7009 §2.1: an unknown hint is not an error; the server searches all token types. So
  // `unsupported_token_type` (§2.2.1) is never sent: both types we issue can be revoked.
  token_type_hint: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  client_secret: Type.Optional(Type.String()),
})

/**
 * Token revocation (RFC 7009). A refresh token revokes its token family, and with it every token
 * issued from the same authorization code (§2.1: "SHOULD also invalidate all access tokens based
 * on the same authorization grant"); an access token goes on the deny-list until it would have expired. Unknown, expired,
 * already revoked or other clients' tokens get the same 200 (§2.2) and nothing is revoked.
 */
export async function revokeRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  app.post<{ Body: Static<typeof RevokeBody> }>(routes.revoke, {
    schema: { body: RevokeBody },
    preValidation: requireFormBody,
  }, async (request, reply) => {
    // Public clients may revoke their own tokens, identified by client_id (RFC 7009 §2.1).
    const client = await authenticateClient(ctx, request, request.body, { endpoint: 'revoke', allowPublic: true })
    allowCorsFor(request, client)
    const found = await findClientToken(ctx, request.body.token, client.client_id, request.body.token_type_hint)
    if (found?.type === 'refresh_token') {
      const { grantId } = found.record
      // A family's token revokes its family (its refresh and access tokens): the user's other
      // devices keep theirs. Tokens from before families revoke their grant, as they always did.
      const revoked = found.familyId === undefined
        ? await ctx.store.revokeGrant(grantId)
        : await ctx.store.revokeRefreshFamily(grantId, found.familyId, found.record.familyExpiresAt)
      if (revoked) {
        ctx.audit('token.revoked', { clientId: client.client_id, tokenType: 'refresh_token', grantId })
      }
    } else if (found?.type === 'access_token') {
      const { jti, exp, grant_id: grantId } = found.claims
      await ctx.store.revokeAccessToken(jti, exp)
      ctx.audit('token.revoked', { clientId: client.client_id, tokenType: 'access_token', ...(grantId === undefined ? {} : { grantId }) })
    }
    noStore(reply)
    // RFC 7009 §2.2: "The content of the response body is ignored by the client", so it may be
    // anything; `{}` as JSON is what clients that parse every answer as JSON accept
    // (@fastify/oauth2 / simple-oauth2 reject an empty 200: "content-type is not JSON compatible").
    return await reply.code(200).type('application/json; charset=utf-8').send('{}')
  })
}
