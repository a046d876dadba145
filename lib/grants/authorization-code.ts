import Type from 'typebox'
import type { ClientRecord, RefreshFamilyRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'
import { nowSeconds, sha256 } from '../tokens/crypto.js'
import { mayRedeemWithoutVerifier, verifyPkce } from '../tokens/pkce.js'
import { scopeValues } from '../tokens/issue.js'
import { familyIdForCode, narrowToClient, newFamilyRefreshToken } from '../tokens/refresh-token.js'
import type { GrantHandler } from './types.js'
import { userTokenResponse, type UserTokenInput } from './issue.js'
import { ResourceParameter } from './types.js'
import { resolveTokenResource } from '../resources/resolve.js'
import { checkKeyBinding, dpopJktOf } from '../tokens/dpop.js'

const body = Type.Object({
  code: Type.String({ minLength: 1 }),
  redirect_uri: Type.String({ minLength: 1 }),
  // Required for every code issued with a code_challenge, so for every client by default; see
  // `handle` for the one case without (RFC 9700 §2.1.1).
  code_verifier: Type.Optional(Type.String({ minLength: 1 })),
  resource: ResourceParameter,
})

/** The `markUsed` key recording that a code was presented again (a replay) after its first use. */
const replayMark = (codeHash: string): string => `code-replay:${codeHash}`

/** One message for every code failure: the client learns nothing about which check failed. */
const invalidCode = (): OAuthError => new OAuthError('invalid_grant', 'the authorization code is invalid, expired, already used, or was issued to another client or redirect_uri')

/**
 * RFC 7636 §4.6 and RFC 9700 §2.1.1 / §4.8.2: a code issued with a challenge needs the verifier
 * that hashes to it; a code issued without one (a confidential client the host allowed to rely on
 * a nonce) must come without a verifier, so a PKCE downgrade is refused, and only to a
 * confidential client.
 */
function pkceHolds (code: { codeChallenge?: string, codeChallengeMethod?: 'S256' }, verifier: string | undefined, client: ClientRecord): boolean {
  if (code.codeChallenge === undefined) return verifier === undefined && client.token_endpoint_auth_method !== 'none'
  return verifier !== undefined && verifyPkce(verifier, code.codeChallenge, code.codeChallengeMethod ?? 'S256')
}

/**
 * `grant_type=authorization_code`: RFC 6749 §4.1.3, RFC 7636 §4.6 (PKCE is required for every
 * client, so `code_verifier` is too, unless the host allowed the client a nonce instead),
 * OpenID Connect Core §3.1.3.
 */
export const authorizationCodeGrant = {
  grantType: 'authorization_code',
  body,
  // Public clients prove possession through PKCE instead of a secret (RFC 7636 §1, RFC 9700 §2.1.1).
  allowPublicClients: true,
  async handle (ctx, params, client, request) {
    // A client that always uses PKCE always sends the verifier: refused before the code is spent.
    if (params.code_verifier === undefined && !mayRedeemWithoutVerifier(client)) {
      throw new OAuthError('invalid_request', "body: missing parameter 'code_verifier'")
    }
    const codeHash = sha256(params.code)
    const familyId = familyIdForCode(codeHash)
    const result = await ctx.store.consumeCode(codeHash)
    if (result.status === 'not_found') throw invalidCode()
    if (result.status === 'already_consumed') {
      // RFC 6749 §4.1.2: a code used twice revokes every token issued from its first use: its
      // token family (RFC 9700 §4.14.2), not the grant, so the user's other devices stay signed
      // in. The mark comes first: the first redemption, still running on another instance, reads
      // it to tell "revoked by this replay" from "consent revoked before the code was redeemed".
      // The family is revoked even if that redemption has not started it yet (a tombstone).
      if (result.grantId !== undefined) {
        const until = nowSeconds() + ctx.options.ttl.code
        await ctx.store.markUsed(replayMark(codeHash), until)
        await ctx.store.revokeRefreshFamily(result.grantId, familyId, until)
      }
      ctx.audit('code.replayed', { clientId: client.client_id, ...(result.grantId === undefined ? {} : { grantId: result.grantId, familyId }) })
      throw invalidCode()
    }
    const code = result.record
    const bound = code.clientId === client.client_id &&
      code.redirectUri === params.redirect_uri && // RFC 6749 §4.1.3: identical to the authorization request's
      // Issue 12: a redirect URI removed by an RFC 7592 update no longer receives tokens.
      client.redirect_uris.includes(code.redirectUri) &&
      code.expiresAt > nowSeconds() &&
      pkceHolds(code, params.code_verifier, client)
    if (!bound) throw invalidCode()
    // RFC 9449 §10: a code issued for dpop_jkt is redeemed only with a proof of that key.
    const dpopJkt = dpopJktOf(request)
    checkKeyBinding(code.dpopJkt, dpopJkt, 'authorization code')
    // Read with the consume where the store can (one round trip), else now.
    const grant = result.grant === undefined ? await ctx.store.getGrant(code.grantId) : result.grant ?? undefined
    if (grant !== undefined && (grant.clientId !== client.client_id || grant.accountId !== code.accountId)) throw invalidCode()
    if (grant === undefined) {
      // Gone before our consume (consent revoked): the code died with it. Gone after it, because
      // a concurrent replay (on another instance: nothing orders its revocation after this read)
      // revoked it: this is still the one first redemption, answered as when the replay comes
      // later, and what it issues is dead already, since tokens live only while their grant does.
      // markUsed succeeds only when no replay marked the code.
      if (await ctx.store.markUsed(replayMark(codeHash), nowSeconds() + ctx.options.ttl.code)) throw invalidCode()
    }

    // Issue 12: scopes the client is no longer registered for are dropped.
    const scope = narrowToClient(client, code.scope)
    // RFC 8707 §2.2: one of the resources of the authorization request, or none.
    const resource = await resolveTokenResource(ctx, { requested: params.resource, granted: code.resources ?? [], client, scope })
    // No family (so no refresh token) under a revoked grant: it could never be used.
    const family = grant === undefined ? undefined : startFamily(ctx, client, { ...code, scope }, familyId, grant.expiresAt, dpopJkt)
    // Optional members assigned rather than spread from temporary objects (on every redemption).
    const input: UserTokenInput = {
      grantType: 'authorization_code',
      client,
      accountId: code.accountId,
      scope,
      authTime: code.authTime,
      grantId: code.grantId,
      familyId,
    }
    if (code.nonce !== undefined) input.nonce = code.nonce
    if (code.sid !== undefined) input.sid = code.sid
    if (family !== undefined) input.pending = family.saved
    if (family?.token !== undefined) input.refreshToken = family.token
    if (resource !== undefined) input.resource = resource
    if (code.acr !== undefined) input.acr = code.acr
    if (code.amr !== undefined) input.amr = code.amr
    if (code.claims !== undefined) input.claimsRequest = code.claims
    if (dpopJkt !== undefined) input.dpopJkt = dpopJkt
    return await userTokenResponse(ctx, input)
  },
} satisfies GrantHandler<typeof body>

/**
 * Starts the code's token family: always (it anchors the access tokens: revoking the family
 * kills them), with a first refresh token when the client may use the refresh_token grant.
 *
 * The family ends at `ttl.refreshTokenAbsolute` from now. When the grant (the user's consent)
 * would end before the first refresh token, the grant is extended while it exists
 * (`extendGrant`, which never recreates a revoked grant), so the family is not capped by the
 * grant's first expiry; later rotations extend it the same way.
 */
export function startFamily (
  ctx: ProviderContext,
  client: ClientRecord,
  code: { clientId: string, grantId: string, accountId: string, scope: string, authTime: number, sessionId?: string, resources?: string[], sid?: string, acr?: string, amr?: string[], exchange?: RefreshFamilyRecord['exchange'] },
  familyId: string,
  grantExpiresAt: number,
  dpopJkt?: string
): { token: string | undefined, saved: Promise<unknown> } {
  const now = nowSeconds()
  const refreshes = client.grant_types.includes('refresh_token')
  const family: RefreshFamilyRecord = {
    familyId,
    grantId: code.grantId,
    clientId: client.client_id,
    accountId: code.accountId,
    scope: code.scope,
    authTime: code.authTime,
    offline: scopeValues(code.scope).has('offline_access'),
    createdAt: now,
    // Without refresh tokens the family only has to outlive its access tokens.
    expiresAt: now + (refreshes ? ctx.options.ttl.refreshTokenAbsolute : ctx.options.ttl.accessToken),
  }
  // Optional members assigned, not spread from temporary objects (on every code redemption).
  if (code.sessionId !== undefined) family.sessionId = code.sessionId
  if (code.resources !== undefined) family.resources = code.resources
  if (code.sid !== undefined) family.sid = code.sid
  if (code.acr !== undefined) family.acr = code.acr
  if (code.amr !== undefined) family.amr = code.amr
  if (code.exchange !== undefined) family.exchange = code.exchange
  // RFC 9449 §5: a public client's refresh tokens are bound to its DPoP key.
  if (dpopJkt !== undefined && client.token_endpoint_auth_method === 'none') family.jkt = dpopJkt
  const first = refreshes ? newFamilyRefreshToken(code.grantId, familyId) : undefined
  const firstRecord = first === undefined
    ? undefined
    : { tokenHash: first.tokenHash, issuedAt: now, expiresAt: Math.min(now + ctx.options.ttl.refreshToken, family.expiresAt) }
  const started = ctx.store.startRefreshFamily(family, firstRecord)
  const saved = firstRecord !== undefined && grantExpiresAt < firstRecord.expiresAt
    ? Promise.all([started, ctx.store.extendGrant(code.grantId, family.expiresAt)])
    : started
  // Awaited by userTokenResponse; this keeps an early rejection from being reported unhandled.
  saved.catch(() => {})
  return { token: first?.token, saved }
}
