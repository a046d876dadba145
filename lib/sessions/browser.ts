import type { FastifyReply, FastifyRequest } from 'fastify'
import type { GrantRecord, InteractionRecord, SessionRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import type { ProviderCookies } from '../http/cookies.js'
import { nowSeconds, randomToken } from '../tokens/crypto.js'
import { noteSessionUse } from './account-sessions.js'

/** What reading and binding the browser takes: the provider and its two cookies. */
export interface BrowserDeps {
  ctx: ProviderContext
  cookies: ProviderCookies
}

/**
 * The browser's login session: the one its signed session cookie names, while the store still
 * has it (expired, ended or never there: undefined). Every reader (the authorization request,
 * the consent check, the logout request and its confirmation) goes through here, which also
 * records the use for the account page's "last seen" (a write every few minutes at most).
 *
 * @example
 * const session = await browserSession(deps, request)
 */
export async function browserSession (deps: BrowserDeps, request: FastifyRequest): Promise<SessionRecord | undefined> {
  const sessionId = deps.cookies.sessionId(request)
  if (sessionId === undefined) return undefined
  const session = await deps.ctx.store.getSession(sessionId)
  return session === undefined ? undefined : await noteSessionUse(deps.ctx, session)
}

/** A browser's session and, where the store read it in the same step, its user's grant to one client. */
export interface SessionWithGrant {
  session: SessionRecord
  /** Present when read with the session (`getSessionWithGrant`); absent: read when needed. */
  grant?: { record: GrantRecord | undefined }
}

/** A session and its user's grant as the store reads them together (`getSessionWithGrant`); undefined: no session. */
export type SessionGrantRead = { session: SessionRecord, grant: GrantRecord | undefined } | undefined

/**
 * `browserSession`, with the user's grant to `clientId` read in the same store step where the
 * store offers it (issue 32: an SSO authorization needs both; one round trip instead of two).
 * `prefetched`: that read, already made for this browser's session cookie (`getClientWithSession`).
 *
 * @example
 * const decision = await decide(ctx, authorization, await browserSessionWithGrant(deps, request, authorization.client.client_id))
 */
export async function browserSessionWithGrant (deps: BrowserDeps, request: FastifyRequest, clientId: string, prefetched?: { read: SessionGrantRead }): Promise<SessionWithGrant | undefined> {
  const { store } = deps.ctx
  let read: SessionGrantRead
  if (prefetched !== undefined) {
    read = prefetched.read
  } else {
    if (store.getSessionWithGrant === undefined) {
      const session = await browserSession(deps, request)
      return session === undefined ? undefined : { session }
    }
    const sessionId = deps.cookies.sessionId(request)
    if (sessionId === undefined) return undefined
    read = await store.getSessionWithGrant(sessionId, clientId)
  }
  if (read === undefined) return undefined
  // As browserSession: the use counts for the account page's "last seen".
  return { session: await noteSessionUse(deps.ctx, read.session), grant: { record: read.grant } }
}

/** What a pending interaction holds besides its id, binding, CSRF token and expiry. */
export type InteractionFields = Omit<InteractionRecord, 'interactionId' | 'csrfToken' | 'browserId' | 'expiresAt'>

/**
 * Saves a pending interaction (login, consent or logout confirmation) bound to this browser: the
 * browser id cookie (set here when missing) must come back with every step, and each form
 * carries the CSRF token issued here. It lives `ttl.interaction` seconds.
 *
 * @example
 * const record = await startBrowserInteraction(deps, request, reply, { clientId, params, prompt: 'login' })
 */
export async function startBrowserInteraction (deps: BrowserDeps, request: FastifyRequest, reply: FastifyReply, fields: InteractionFields): Promise<InteractionRecord> {
  let browserId = deps.cookies.browserId(request)
  if (browserId === undefined) {
    browserId = randomToken(16)
    deps.cookies.setBrowserId(reply, browserId)
  }
  const record: InteractionRecord = {
    interactionId: randomToken(16),
    clientId: fields.clientId,
    params: fields.params,
    csrfToken: randomToken(24),
    browserId,
    expiresAt: nowSeconds() + deps.ctx.options.ttl.interaction,
  }
  // Optional members assigned only when present (the record's shape stays what it was).
  if (fields.prompt !== undefined) record.prompt = fields.prompt
  if (fields.accountId !== undefined) record.accountId = fields.accountId
  if (fields.authTime !== undefined) record.authTime = fields.authTime
  if (fields.sessionId !== undefined) record.sessionId = fields.sessionId
  if (fields.sid !== undefined) record.sid = fields.sid
  if (fields.acr !== undefined) record.acr = fields.acr
  if (fields.amr !== undefined) record.amr = fields.amr
  await deps.ctx.store.saveInteraction(record)
  return record
}
