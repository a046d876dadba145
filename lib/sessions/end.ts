import type { ProviderContext } from '../contracts/context.js'
import type { SessionRecord } from '../contracts/store.js'
import { notifyClients } from './backchannel.js'
import type { SessionEndReason } from '../contracts/events.js'

/**
 * Ends one login session (RP-Initiated Logout 1.0 §2, the user's choice). The store hands the
 * session over atomically, so of two concurrent logouts only one notifies the clients.
 * Returns the ended session, or undefined when it had already ended.
 *
 * @example
 * await endSession(ctx, sessionId, 'logout')
 */
export async function endSession (ctx: ProviderContext, sessionId: string, reason: SessionEndReason): Promise<SessionRecord | undefined> {
  const session = await ctx.store.takeSession(sessionId)
  if (session !== undefined) await sessionEnded(ctx, session, reason)
  return session
}

/** Ends every session of an account (password change, "log out everywhere"). Returns how many. */
export async function endAccountSessions (ctx: ProviderContext, accountId: string): Promise<number> {
  const sessions = await ctx.store.takeAccountSessions(accountId)
  for (const session of sessions) await sessionEnded(ctx, session, 'host')
  return sessions.length
}

/**
 * What follows the end of a session, whichever way it ended: the one place for it.
 * - tokens issued in the session without `offline_access` die with it (their token families are
 *   revoked; offline families survive, as node-oidc-provider's `expiresWithSession`);
 * - the event, then back-channel logout (OIDC Back-Channel Logout 1.0 §2.5), not awaited.
 */
export async function sessionEnded (ctx: ProviderContext, session: SessionRecord, reason: SessionEndReason): Promise<void> {
  await ctx.store.revokeSessionFamilies(session.sessionId)
  ctx.audit('session.ended', {
    accountId: session.accountId,
    ...(session.sid === undefined ? {} : { sid: session.sid }),
    reason,
    clients: session.clients?.length ?? 0,
  })
  notifyClients(ctx, session)
}
