import type { GrantRecord } from '../adapters/store/types.js'
import type { ProviderContext } from '../context.js'
import { nowSeconds, randomToken, sha256 } from '../crypto.js'
import type { AuthorizationRequest } from './request.js'
import { redirectError } from './request.js'
import { recordSessionClient } from '../sessions/session.js'

export interface Authentication {
  accountId: string
  authTime: number
  sessionId?: string
  /** The session's public `sid` (for the ID token and back-channel logout). */
  sid?: string
  /** OIDC Core §2: the Authentication Context Class Reference and methods of the login. */
  acr?: string
  amr?: string[]
  /** The clients the session had signed into when it was read (`SessionRecord.clients`). */
  sessionClients?: readonly string[]
}

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
  const saved = ctx.store.saveCode(sha256(code), {
    clientId: request.client.client_id,
    grantId: grant.grantId,
    accountId: authentication.accountId,
    redirectUri: request.redirectUri,
    ...(request.codeChallenge === undefined ? {} : { codeChallenge: request.codeChallenge, codeChallengeMethod: request.codeChallengeMethod ?? 'S256' }),
    scope: scopes.join(' '),
    ...(request.nonce === undefined ? {} : { nonce: request.nonce }),
    authTime: authentication.authTime,
    ...(authentication.sessionId === undefined ? {} : { sessionId: authentication.sessionId }),
    ...(request.resources === undefined || request.resources.length === 0 ? {} : { resources: request.resources }),
    ...(authentication.sid === undefined ? {} : { sid: authentication.sid }),
    expiresAt: now + ctx.options.ttl.code,
    ...(authentication.acr === undefined ? {} : { acr: authentication.acr }),
    ...(authentication.amr === undefined ? {} : { amr: authentication.amr }),
    ...(request.claims === undefined ? {} : { claims: JSON.stringify(request.claims) }),
    ...(request.dpopJkt === undefined ? {} : { dpopJkt: request.dpopJkt }),
  })
  // The seed's nonce replay protection: a nonce is good for one ID token per client within
  // the ID token lifetime. Checked when the code is issued, so reloading a login page is fine.
  // Checked alongside the save (one store round trip, not two): a code saved for a replayed
  // nonce is never handed out, so nobody can redeem it before it expires.
  const fresh = request.nonce !== undefined && ctx.options.nonceReplayProtection
    ? ctx.store.markUsed(`nonce:${request.client.client_id}:${sha256(request.nonce)}`, now + ctx.options.ttl.idToken)
    : Promise.resolve(true)
  const [nonceIsFresh] = await Promise.all([fresh, saved, recordSessionClient(ctx, authentication.sessionId, request.client.client_id, authentication.sessionClients)])
  if (!nonceIsFresh) throw redirectError('invalid_request', 'this nonce was already used')
  return code
}
