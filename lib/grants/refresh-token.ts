import Type from 'typebox'
import type { ClientRecord, RefreshFamilyRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'
import { scopeSet, type TokenResponse } from '../tokens/issue.js'
import type { GrantHandler } from './types.js'
import { userTokenResponse } from './issue.js'
import { ResourceParameter } from './types.js'
import { resolveTokenResource } from '../resources/resolve.js'
import { legacyRefresh } from './refresh-legacy.js'
import { exchangedRefreshResponse } from './token-exchange.js'
import {
  narrowToClient,
  newFamilyRefreshToken,
  normalizeScope,
  openSuccessor,
  parseRefreshToken,
  sealSuccessor,
} from '../tokens/refresh-token.js'
import { checkKeyBinding, dpopJktOf } from '../tokens/dpop.js'

const body = Type.Object({
  refresh_token: Type.String({ minLength: 1 }),
  scope: Type.Optional(Type.String()),
  resource: ResourceParameter,
})

const invalidRefreshToken = (): OAuthError => new OAuthError('invalid_grant', 'the refresh token is invalid, expired, revoked, or was issued to another client')

/**
 * `grant_type=refresh_token`: RFC 6749 §6, with rotation and reuse detection (RFC 9700 §4.14.2)
 * made safe for honest retries. The whole decision is ONE atomic store step
 * (`rotateRefreshToken`), in this order:
 *
 * | presented token                                        | answer                                     |
 * |--------------------------------------------------------|--------------------------------------------|
 * | the family's current one                               | 200, a new refresh token (rotation)        |
 * | rotated < `refreshTokenGrace` s ago, successor unused  | 200, the SAME successor, fresh access/ID   |
 * | rotated, successor used or window over                 | invalid_grant, the family is revoked       |
 * | another client's (current or rotated)                  | invalid_grant, nothing changes             |
 * | a retry whose `scope` differs from the first request's | invalid_grant, nothing changes             |
 *
 * The successor is never stored readably: the store keeps its hash and a copy sealed under a
 * key derived from the presented token (see `refresh-family.ts`), so a retry opens it and a
 * copy of the store does not.
 */
export const refreshTokenGrant = {
  grantType: 'refresh_token',
  body,
  // RFC 9700 §4.14.2: public clients may refresh because their tokens are sender-rotated.
  allowPublicClients: true,
  async handle (ctx, params, client, request) {
    const parsed = parseRefreshToken(params.refresh_token)
    // Not a family token: one issued before families, or garbage (unknown to the store).
    if (parsed === undefined) return await legacyRefresh(ctx, client, params.refresh_token, params.scope)
    // RFC 6749 §6: the requested scope must not include any scope not originally granted (the
    // store checks it against the family before anything changes).
    if (params.scope !== undefined && scopeSet(params.scope).size === 0) throw new OAuthError('invalid_scope', 'scope is empty')
    const requested = normalizeScope(params.scope)
    const dpopJkt = dpopJktOf(request)
    // Checked before the rotation, so a refused request changes nothing (one more read, only
    // for a named resource or a public client, whose refresh tokens may be DPoP-bound):
    // RFC 8707 §2.2, a named resource must be one the grant holds; RFC 9449 §5, a bound refresh
    // token needs a proof of its key.
    if (params.resource !== undefined || client.token_endpoint_auth_method === 'none') {
      const found = await ctx.store.findFamilyRefreshToken(parsed.grantId, parsed.familyId, parsed.tokenHash)
      if (found !== undefined && found.family.clientId === client.client_id) {
        checkKeyBinding(found.family.jkt, dpopJkt, 'refresh token')
        if (params.resource !== undefined) {
          await resolveTokenResource(ctx, { requested: params.resource, granted: found.family.resources ?? [], client, scope: found.family.scope })
        }
      }
    }

    const successor = newFamilyRefreshToken(parsed.grantId, parsed.familyId)
    const result = await ctx.store.rotateRefreshToken({
      grantId: parsed.grantId,
      familyId: parsed.familyId,
      tokenHash: parsed.tokenHash,
      clientId: client.client_id,
      ...(requested === undefined ? {} : { scope: requested }),
      graceSeconds: ctx.options.refreshTokenGrace,
      successor: {
        tokenHash: successor.tokenHash,
        lifetimeSeconds: ctx.options.ttl.refreshToken,
        sealed: sealSuccessor(params.refresh_token, parsed, successor.token),
      },
    })

    switch (result.status) {
      case 'not_found':
      // RFC 6749 §6: bound to its client; another client's attempt changed nothing.
      // falls through
      case 'wrong_client':
        throw invalidRefreshToken()
      case 'invalid_scope':
        throw new OAuthError('invalid_scope', `scope '${result.scope}' was not granted`)
      case 'reused':
        // RFC 9700 §4.14.2: a rotated token used again means it leaked. The store has revoked
        // its family (refresh and access tokens), whichever of the two users is the attacker;
        // the grant and the user's other families stay.
        ctx.audit('refresh_token.reused', { clientId: client.client_id, grantId: parsed.grantId, familyId: parsed.familyId })
        throw invalidRefreshToken()
      case 'retried': {
        // A retry cannot change what the first request asked for.
        if (result.scope !== requested) throw invalidRefreshToken()
        const token = openSuccessor(params.refresh_token, parsed, result.sealed)
        if (token === undefined) throw invalidRefreshToken()
        ctx.audit('refresh_token.retried', { clientId: client.client_id, grantId: parsed.grantId, familyId: parsed.familyId })
        return await respond(ctx, client, result.family, params, token, dpopJkt)
      }
      case 'rotated': {
        // Issue 12: the grant is extended while it lives, so a family in use is not cut off by
        // the consent's first expiry (never past the family's own end).
        if (result.grantExpiresAt < result.successor.expiresAt &&
          !await ctx.store.extendGrant(parsed.grantId, result.family.expiresAt)) throw invalidRefreshToken()
        return await respond(ctx, client, result.family, params, successor.token, dpopJkt)
      }
    }
  },
} satisfies GrantHandler<typeof body>

/**
 * The refresh response: the requested scope (or the family's), narrowed to what the client is
 * still registered for; auth_time, acr and amr are the original authentication's and there is
 * no nonce (OpenID Connect Core §12.2: otherwise the rules of the original ID token apply).
 */
async function respond (
  ctx: ProviderContext,
  client: ClientRecord,
  family: RefreshFamilyRecord,
  params: { scope?: string | undefined, resource?: unknown },
  refreshToken: string,
  dpopJkt: string | undefined
): Promise<TokenResponse> {
  // RFC 9449 §5: a bound family answers only a proof of its key (also checked before the
  // rotation; here for retries, which the pre-read does not find).
  checkKeyBinding(family.jkt, dpopJkt, 'refresh token')
  const scope = narrowToClient(client, params.scope === undefined ? family.scope : [...scopeSet(params.scope)].join(' '))
  // RFC 8707 §2.2: narrow to one of the grant's resources, never widen.
  const resource = await resolveTokenResource(ctx, { requested: params.resource, granted: family.resources ?? [], client, scope })
  // A family a token exchange started refreshes into the exchange's shape (RFC 8693).
  if (family.exchange !== undefined) return await exchangedRefreshResponse(ctx, client, family, { scope, resource, refreshToken, dpopJkt })
  return await userTokenResponse(ctx, {
    grantType: 'refresh_token',
    client,
    accountId: family.accountId,
    scope,
    authTime: family.authTime,
    grantId: family.grantId,
    familyId: family.familyId,
    ...(family.sid === undefined ? {} : { sid: family.sid }),
    ...(family.acr === undefined ? {} : { acr: family.acr }),
    ...(family.amr === undefined ? {} : { amr: family.amr }),
    refreshToken,
    ...(resource === undefined ? {} : { resource }),
    ...(dpopJkt === undefined ? {} : { dpopJkt }),
  })
}
