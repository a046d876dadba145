import type { JWTPayload } from 'jose'
import type { ClientRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'
import { tokenTypes, type ActorClaim, type ExchangeSubject } from '../contracts/trust.js'
import { isActorClaim, verifyAccessTokenPayload } from '../tokens/verify.js'
import { findClientToken } from '../tokens/lookup.js'
import { verifyTrustedJwt } from '../trust/assertion.js'

/** A subject or actor token, read and checked: what the policy sees, and what the new token joins. */
export interface ReadToken extends ExchangeSubject {
  /** The grant and family of our tokens: the exchanged token lives and dies with them. */
  grantId?: string
  familyId?: string
  authTime?: number
  acr?: string
  amr?: string[]
  /** RFC 8693 §4.4: who may act for this subject. */
  mayAct?: unknown
  /** RFC 9449 §6.1: the DPoP key a subject access token of ours is bound to. */
  dpopJkt?: string
}

/** Which token types each role accepts (RFC 8693 §3). */
export type TokenRole = 'subject_token' | 'actor_token'

/**
 * RFC 8693 §2.1: reads a `subject_token` or `actor_token` of the type its `*_token_type` names:
 * our access tokens (live: not revoked, grant alive), our ID tokens (issued to this client),
 * this client's refresh tokens (for ID-JAG issuance), or JWTs of a trusted issuer. §2.2.2: a
 * token that is invalid "for any reason" is `invalid_request`; the description says which one.
 */
export async function readExchangeToken (
  ctx: ProviderContext,
  client: ClientRecord,
  role: TokenRole,
  token: string,
  type: string
): Promise<ReadToken> {
  const invalid = (): OAuthError => new OAuthError('invalid_request', `the ${role} is invalid, expired or revoked`)
  switch (type) {
    case tokenTypes.accessToken: {
      const verified = await verifyAccessTokenPayload(ctx, token)
      if (verified === undefined) throw invalid()
      const { claims, payload } = verified
      const read: ReadToken = { tokenType: type, sub: claims.sub, issuer: ctx.issuer, clientId: claims.client_id, audience: claims.aud, scope: claims.scope ?? '' }
      if (claims.act !== undefined) read.act = claims.act
      if (claims.grant_id !== undefined) read.grantId = claims.grant_id
      if (claims.family_id !== undefined) read.familyId = claims.family_id
      if (claims.auth_time !== undefined) read.authTime = claims.auth_time
      if (payload.may_act !== undefined) read.mayAct = payload.may_act
      if (claims.cnf !== undefined) read.dpopJkt = claims.cnf.jkt
      return read
    }
    case tokenTypes.idToken: {
      // OIDC Core §2: an ID token is meant for its `aud`; only that client may present it.
      const payload = await ctx.keys.verifier.verify(token, { typ: 'JWT', audience: client.client_id })
      if (payload === undefined || typeof payload.sub !== 'string') throw invalid()
      return withAuthentication({ tokenType: type, sub: payload.sub, issuer: ctx.issuer, clientId: client.client_id, audience: client.client_id }, payload)
    }
    case tokenTypes.refreshToken: {
      if (role !== 'subject_token') throw new OAuthError('invalid_request', 'a refresh token cannot be an actor_token')
      const found = await findClientToken(ctx, token, client.client_id, 'refresh_token')
      if (found?.type !== 'refresh_token') throw invalid()
      const { record } = found
      const read: ReadToken = { tokenType: type, sub: record.accountId, issuer: ctx.issuer, clientId: record.clientId, scope: record.scope, grantId: record.grantId, authTime: record.authTime }
      if (found.familyId !== undefined) read.familyId = found.familyId
      return read
    }
    case tokenTypes.jwt: {
      let verified
      try {
        verified = await verifyTrustedJwt(ctx, token, 'subject', [ctx.issuer, ctx.urls.token, client.client_id])
      } catch (error) {
        // RFC 8693 §2.2.2 answers an unacceptable token with invalid_request, RFC 7523 with invalid_grant.
        if (error instanceof OAuthError && error.error === 'invalid_grant') throw new OAuthError('invalid_request', `${role}: ${error.error_description}`)
        throw error
      }
      const { payload, issuer } = verified
      const read = withAuthentication({ tokenType: type, sub: payload.sub as string, issuer: issuer.issuer }, payload)
      if (payload.aud !== undefined) read.audience = payload.aud
      if (typeof payload.scope === 'string') read.scope = payload.scope
      if (isActorClaim(payload.act)) read.act = payload.act
      if (payload.may_act !== undefined) read.mayAct = payload.may_act
      if (typeof payload.client_id === 'string') read.clientId = payload.client_id
      return read
    }
    default:
      throw new OAuthError('invalid_request', `the ${role}_type is not supported (access_token, id_token, refresh_token, jwt)`)
  }
}

function withAuthentication (read: ReadToken, payload: JWTPayload): ReadToken {
  if (typeof payload.auth_time === 'number') read.authTime = payload.auth_time
  if (typeof payload.acr === 'string') read.acr = payload.acr
  if (Array.isArray(payload.amr) && payload.amr.every((value) => typeof value === 'string')) read.amr = payload.amr as string[]
  return read
}

/** The party an actor token names (RFC 8693 §4.1): `iss` only when it is not us. */
export function actorOf (ctx: ProviderContext, actor: ReadToken): ActorClaim {
  return actor.issuer === ctx.issuer ? { sub: actor.sub } : { sub: actor.sub, iss: actor.issuer }
}

/**
 * RFC 8693 §4.4: a subject token's `may_act` names who may act for it; an actor it does not
 * name is refused. A malformed `may_act` allows nobody.
 */
export function mayAct (ctx: ProviderContext, subject: ReadToken, actor: ActorClaim): boolean {
  if (subject.mayAct === undefined) return true
  const allowed = subject.mayAct
  if (typeof allowed !== 'object' || allowed === null || Array.isArray(allowed)) return false
  const { sub, iss } = allowed as Record<string, unknown>
  if (typeof sub !== 'string' || sub !== actor.sub) return false
  return iss === undefined || iss === (actor.iss ?? ctx.issuer)
}
