import type { GrantRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { nowSeconds, randomToken } from '../tokens/crypto.js'
import { scopeValues } from '../tokens/issue.js'
import type { AuthorizationRequest, IssueCode } from './types.js'

/** Whether the user's existing consent covers every requested scope. */
export function grantCovers (grant: GrantRecord | undefined, scopes: readonly string[]): boolean {
  if (grant === undefined) return false
  // The grant's scope string splits the same way on every SSO authorization (twice: the
  // consent check and the code): read through the shared set.
  const granted = scopeValues(grant.scope)
  for (const scope of scopes) if (!granted.has(scope)) return false
  return true
}

/** Consent is skipped for first-party clients and when an earlier consent covers the request. */
export function needsConsent (request: AuthorizationRequest, grant: GrantRecord | undefined): boolean {
  if (request.prompt.has('consent')) return true
  if (request.client.first_party === true) return false
  return !grantCovers(grant, request.scopes)
}

/**
 * Records the user's consent: the grant for (user, client) gains the granted scopes, keeping
 * its id so tokens already issued under it stay valid; a new grant is made when there is none.
 */
export async function recordGrant (
  ctx: ProviderContext,
  accountId: string,
  request: AuthorizationRequest,
  granted: readonly string[] = request.scopes
): Promise<GrantRecord> {
  const now = nowSeconds()
  const existing = await ctx.store.findGrant(accountId, request.client.client_id)
  const scopes = new Set([...(existing?.scope.split(' ') ?? []), ...granted])
  scopes.delete('')
  const grant: GrantRecord = {
    grantId: existing?.grantId ?? randomToken(16),
    accountId,
    clientId: request.client.client_id,
    scope: [...scopes].join(' '),
    createdAt: existing?.createdAt ?? now,
    expiresAt: Math.max(existing?.expiresAt ?? 0, now + ctx.options.ttl.grant),
  }
  await ctx.store.saveGrant(grant)
  return grant
}

/**
 * The grant a decision to issue runs under: recorded or widened when the consent is new or the
 * grant falls short, else the one just read. A new consent is audited.
 */
export async function grantForDecision (ctx: ProviderContext, authorization: AuthorizationRequest, decision: IssueCode): Promise<GrantRecord> {
  const { authentication, scopes } = decision
  const existing = decision.grant.consented ? undefined : decision.grant.existing
  const grant = decision.grant.consented || existing === undefined || !grantCovers(existing, scopes)
    ? await recordGrant(ctx, authentication.accountId, authorization, scopes)
    : existing
  if (decision.grant.consented) {
    ctx.audit('consent.granted', { accountId: authentication.accountId, clientId: authorization.client.client_id, scope: scopes.join(' ') })
  }
  return grant
}
