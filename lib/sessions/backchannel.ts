import type { BackgroundWork, ProviderContext } from '../contracts/context.js'
import type { SessionRecord } from '../contracts/store.js'
import { signLogoutToken, type LogoutSubject } from './logout-token.js'

/** Deliveries still running, per provider, so `app.close()` can let them finish. */
/**
 * OIDC Back-Channel Logout 1.0 §2.5: tells every client the ended session signed into, and that
 * registered a `backchannel_logout_uri`, with a POSTed Logout Token. Started after the user's
 * logout is answered and never awaited by it: the requests run in parallel through the SSRF-safe
 * fetcher (registered URIs only, no redirects, each bounded by `outbound.timeoutMs`), and a
 * failure is logged and raised as `backchannel_logout.failed`, never turned into a failed logout.
 */
export function notifyClients (ctx: ProviderContext, session: SessionRecord): void {
  for (const clientId of session.clients ?? []) notifyClient(ctx, session, clientId)
}

/**
 * Tells one client that the user's sign-in there ended (a connected app revoked): one Logout
 * Token per session the revoked grant was tied to (`sid`), or one with `sub` alone when it was
 * tied to none, which §2.4 allows unless the client registered
 * `backchannel_logout_session_required`. Not awaited, like `notifyClients`.
 */
export function notifyGrantRevoked (ctx: ProviderContext, accountId: string, clientId: string, sids: readonly string[]): void {
  if (sids.length === 0) notifyClient(ctx, { accountId }, clientId)
  for (const sid of sids) notifyClient(ctx, { accountId, sid }, clientId)
}

function notifyClient (ctx: ProviderContext, subject: LogoutSubject, clientId: string): void {
  ctx.deliveries.track(deliver(ctx, subject, clientId).catch((error: unknown) => {
    ctx.log.error({ err: error, clientId }, 'fastify-oidc-provider: back-channel logout delivery threw')
  }))
}

async function deliver (ctx: ProviderContext, session: LogoutSubject, clientId: string): Promise<void> {
  const client = await ctx.clients.find(clientId)
  const uri = client?.backchannel_logout_uri
  if (client === undefined || uri === undefined) return
  // §2.4: a client that requires `sid` gets no Logout Token without one.
  if (session.sid === undefined && client.backchannel_logout_session_required === true) return
  const logoutToken = await signLogoutToken(ctx, session, clientId)
  const result = await ctx.fetcher.postForm(uri, new URLSearchParams({ logout_token: logoutToken }), {
    timeoutMs: ctx.options.outbound.timeoutMs,
  })
  if (result.ok) {
    ctx.audit('backchannel_logout.delivered', { clientId, accountId: session.accountId, status: result.status })
    return
  }
  ctx.audit('backchannel_logout.failed', { clientId, accountId: session.accountId, reason: result.reason, detail: result.message })
}

/**
 * The deliveries in flight (`ctx.deliveries`): `app.close()` (and tests) wait for those started
 * so far, each bounded by its own timeout.
 */
export function createDeliveries (): BackgroundWork {
  const pending = new Set<Promise<void>>()
  return {
    track (work) {
      const tracked: Promise<void> = work.finally(() => { pending.delete(tracked) })
      pending.add(tracked)
    },
    async settle () {
      // Deliveries started while waiting are waited for too.
      for (let batch = [...pending]; batch.length > 0; batch = [...pending]) await Promise.allSettled(batch)
    },
  }
}
