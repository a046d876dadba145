import type { InteractionRecord, SessionRecord } from '../contracts/store.js'
import type { Authentication } from './types.js'

/** The user a login session stands for (SSO), with what the ID token and the code carry of it. */
export function sessionAuthentication (session: SessionRecord): Authentication {
  // Optional members assigned rather than spread from temporary objects (on every SSO request).
  const authentication: Authentication = { accountId: session.accountId, authTime: session.authTime, sessionId: session.sessionId }
  if (session.sid !== undefined) authentication.sid = session.sid
  if (session.acr !== undefined) authentication.acr = session.acr
  if (session.amr !== undefined) authentication.amr = session.amr
  if (session.clients !== undefined) authentication.sessionClients = session.clients
  return authentication
}

/** The user a consent interaction was started for (the login's account, session and methods). */
export function interactionAuthentication (record: InteractionRecord & { accountId: string }): Authentication {
  const authentication: Authentication = { accountId: record.accountId, authTime: record.authTime ?? 0 }
  if (record.sessionId !== undefined) authentication.sessionId = record.sessionId
  if (record.sid !== undefined) authentication.sid = record.sid
  if (record.acr !== undefined) authentication.acr = record.acr
  if (record.amr !== undefined) authentication.amr = record.amr
  return authentication
}
