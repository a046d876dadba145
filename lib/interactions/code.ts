import type { AuthorizationCodeRecord, GrantRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { nowSeconds, randomToken, sha256 } from '../tokens/crypto.js'
import type { Authentication, AuthorizationRequest } from './types.js'
import { redirectError } from './errors.js'
import { issuedAcr } from './acr.js'
import { recordSessionClient } from '../sessions/session.js'

/**
 * Issues the authorization code (RFC 6749 §4.1.2): 256 random bits, stored only as its hash,
 * single-use, bound to client, redirect_uri, PKCE challenge, nonce, scopes, user, auth_time
 * and grant. The scopes are those consented to: the requested ones or fewer, never more.
 */
export async function issueCode (
  ctx: ProviderContext,
  request: AuthorizationRequest,
  authentication: Authentication,
  grant: GrantRecord,
  scopes: readonly string[] = request.scopes
): Promise<string> {
  const now = nowSeconds()
  const code = randomToken(32)
  // Optional members assigned rather than spread from temporary objects (one allocation each,
  // on every authorization); the record has the same members (required ones first).
  const record: AuthorizationCodeRecord = {
    clientId: request.client.client_id,
    grantId: grant.grantId,
    accountId: authentication.accountId,
    redirectUri: request.redirectUri,
    scope: scopes.join(' '),
    authTime: authentication.authTime,
    expiresAt: now + ctx.options.ttl.code,
  }
  if (request.codeChallenge !== undefined) {
    record.codeChallenge = request.codeChallenge
    record.codeChallengeMethod = request.codeChallengeMethod ?? 'S256'
  }
  if (request.nonce !== undefined) record.nonce = request.nonce
  if (authentication.sessionId !== undefined) record.sessionId = authentication.sessionId
  if (request.resources.length > 0) record.resources = request.resources
  if (authentication.sid !== undefined) record.sid = authentication.sid
  // OIDC Core §3.1.2.1, §5.5.1.1, §2: the class satisfied, or `defaultAcr` when one was asked for.
  const acr = issuedAcr(ctx, request, authentication)
  if (acr !== undefined) record.acr = acr
  if (authentication.amr !== undefined) record.amr = authentication.amr
  if (request.claims !== undefined) record.claims = JSON.stringify(request.claims)
  if (request.dpopJkt !== undefined) record.dpopJkt = request.dpopJkt
  // The seed's nonce replay protection: a nonce is good for one ID token per client within
  // the ID token lifetime. Checked when the code is issued, so reloading a login page is fine.
  // One store step where the store offers it (saveCodeOnce: the code is saved only for a fresh
  // nonce), else checked alongside the save: a code saved for a replayed nonce is never handed
  // out, so nobody can redeem it before it expires.
  const nonceKey = request.nonce !== undefined && ctx.options.nonceReplayProtection
    ? `nonce:${request.client.client_id}:${sha256(request.nonce)}`
    : undefined
  const codeHash = sha256(code)
  const saved = nonceKey === undefined
    ? ctx.store.saveCode(codeHash, record).then(() => true)
    : ctx.store.saveCodeOnce !== undefined
      ? ctx.store.saveCodeOnce(codeHash, record, nonceKey, now + ctx.options.ttl.idToken)
      : Promise.all([ctx.store.markUsed(nonceKey, now + ctx.options.ttl.idToken), ctx.store.saveCode(codeHash, record)]).then(([fresh]) => fresh)
  const [nonceIsFresh] = await Promise.all([saved, recordSessionClient(ctx, authentication.sessionId, request.client.client_id, authentication.sessionClients)])
  if (!nonceIsFresh) throw redirectError('invalid_request', 'this nonce was already used')
  return code
}

/**
 * What issuing a code records besides the code, for a response without one (response_type
 * id_token): the nonce as used (the same replay rule as above) and the client among the
 * session's (for logout).
 */
export async function recordIdTokenIssue (ctx: ProviderContext, request: AuthorizationRequest, authentication: Authentication): Promise<void> {
  const fresh = request.nonce !== undefined && ctx.options.nonceReplayProtection
    ? ctx.store.markUsed(`nonce:${request.client.client_id}:${sha256(request.nonce)}`, nowSeconds() + ctx.options.ttl.idToken)
    : Promise.resolve(true)
  const [nonceIsFresh] = await Promise.all([fresh, recordSessionClient(ctx, authentication.sessionId, request.client.client_id, authentication.sessionClients)])
  if (!nonceIsFresh) throw redirectError('invalid_request', 'this nonce was already used')
}
