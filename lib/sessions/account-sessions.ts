import type { ProviderContext } from '../contracts/context.js'
import type { SessionRecord } from '../contracts/store.js'
import { nowSeconds } from '../tokens/crypto.js'
import { endSession } from './end.js'

/**
 * One of a user's login sessions as the account page shows it: named by its public `sid`
 * (the id ID tokens carry), never by the session id, which is the cookie's bearer secret.
 */
export interface AccountSession {
  sid: string
  /** "Firefox on Linux": from the User-Agent at sign-in, when it sent one. Plain text: escape it. */
  device?: string
  /** When the user signed in (epoch seconds). */
  createdAt: number
  /** When the browser last used it, to within `lastSeenInterval` (epoch seconds). */
  lastSeenAt: number
  expiresAt: number
  /** The session of the browser asking (the account page's own). */
  current: boolean
}

/** How stale `lastSeenAt` may get before a use writes it again: one write per 5 minutes per session, at most. */
export const lastSeenInterval = 300

/**
 * Records a use of the session when the last one recorded is older than `lastSeenInterval`:
 * the SSO path reads the session anyway, and writes only this rarely. Returns the session as
 * it now is: a copy with the new `lastSeenAt` when one was written, else `session` itself,
 * which is never written to (a store may hand out frozen or shared records).
 *
 * @example
 * const used = await noteSessionUse(ctx, session)
 */
export async function noteSessionUse (ctx: ProviderContext, session: SessionRecord, at = nowSeconds()): Promise<SessionRecord> {
  if ((session.lastSeenAt ?? session.authTime) > at - lastSeenInterval) return session
  return await ctx.store.touchSession(session.sessionId, at) ? { ...session, lastSeenAt: at } : session
}

/**
 * The user's live sessions, newest first, from the account's own session index. Sessions
 * saved before `sid` existed have no public name and are left out (they cannot be ended here).
 *
 * @example
 * const sessions = await listAccountSessions(ctx, accountId, currentSessionId)
 */
export async function listAccountSessions (ctx: ProviderContext, accountId: string, currentSessionId?: string): Promise<AccountSession[]> {
  const sessions = await ctx.store.listAccountSessions(accountId)
  return sessions
    .filter((session): session is SessionRecord & { sid: string } => session.accountId === accountId && session.sid !== undefined)
    .map((session) => ({
      sid: session.sid,
      ...(session.device === undefined ? {} : { device: session.device }),
      createdAt: session.authTime,
      lastSeenAt: Math.max(session.authTime, session.lastSeenAt ?? 0),
      expiresAt: session.expiresAt,
      current: session.sessionId === currentSessionId,
    }))
    .sort((a, b) => b.createdAt - a.createdAt || a.sid.localeCompare(b.sid))
}

/**
 * Keeps the account within `maxSessionsPerAccount` live sessions after a login saved `kept`:
 * past the cap its oldest sessions (by sign-in time) end as at a logout (`endSession`, reason
 * `limit`: its families without `offline_access`, back-channel logout to its clients). Never
 * `kept`, the session just started. Reading the list is also what prunes the account's index
 * of sessions that expired or ended (every store drops those as it lists), so the index a login
 * leaves behind holds at most the cap. Two concurrent logins may both see one session too many
 * and pick the same oldest one (`takeSession` hands it to one of them): the next login trims.
 *
 * @example
 * await limitAccountSessions(ctx, session.accountId, session.sessionId)
 */
export async function limitAccountSessions (ctx: ProviderContext, accountId: string, kept: string): Promise<void> {
  const sessions = await ctx.store.listAccountSessions(accountId)
  const excess = sessions.length - ctx.options.maxSessionsPerAccount
  if (excess <= 0) return
  const oldest = sessions
    .filter((session) => session.sessionId !== kept && session.accountId === accountId)
    .sort((a, b) => a.authTime - b.authTime || a.sessionId.localeCompare(b.sessionId))
    .slice(0, excess)
  for (const session of oldest) await endSession(ctx, session.sessionId, 'limit')
}

/**
 * Ends the user's session named `sid` as a logout does (`endSession`: on every instance, its
 * token families without `offline_access` with it, back-channel logout to its clients). Only
 * a session of `accountId` can be named: another user's `sid` finds nothing. Returns the
 * ended session, or undefined when there was none (or it had ended meanwhile).
 *
 * @example
 * await endAccountSession(ctx, accountId, sid, 'account')
 */
export async function endAccountSession (ctx: ProviderContext, accountId: string, sid: string, reason: 'account' | 'host'): Promise<SessionRecord | undefined> {
  const session = (await ctx.store.listAccountSessions(accountId)).find((candidate) => candidate.sid === sid && candidate.accountId === accountId)
  return session === undefined ? undefined : await endSession(ctx, session.sessionId, reason)
}
