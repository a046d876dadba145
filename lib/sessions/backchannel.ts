import type { ProviderContext } from '../contracts/context.js'
import type { SessionRecord } from '../contracts/store.js'
import { findClient } from '../clients/lookup.js'
import { signLogoutToken } from './logout-token.js'

/** Deliveries still running, per provider, so `app.close()` can let them finish. */
const inFlight = new WeakMap<ProviderContext, Set<Promise<void>>>()

/**
 * OIDC Back-Channel Logout 1.0 §2.5: tells every client the ended session signed into, and that
 * registered a `backchannel_logout_uri`, with a POSTed Logout Token. Started after the user's
 * logout is answered and never awaited by it: the requests run in parallel through the SSRF-safe
 * fetcher (registered URIs only, no redirects, each bounded by `outbound.timeoutMs`), and a
 * failure is logged and raised as `backchannel_logout.failed`, never turned into a failed logout.
 */
export function notifyClients (ctx: ProviderContext, session: SessionRecord): void {
  const clientIds = session.clients ?? []
  if (clientIds.length === 0) return
  const pending = inFlight.get(ctx) ?? new Set<Promise<void>>()
  inFlight.set(ctx, pending)
  for (const clientId of clientIds) {
    const delivery: Promise<void> = deliver(ctx, session, clientId)
      .catch((error: unknown) => {
        ctx.log.error({ err: error, clientId }, 'fastify-oidc-provider: back-channel logout delivery threw')
      })
      .finally(() => { pending.delete(delivery) })
    pending.add(delivery)
  }
}

async function deliver (ctx: ProviderContext, session: SessionRecord, clientId: string): Promise<void> {
  const client = await findClient(ctx, clientId)
  const uri = client?.backchannel_logout_uri
  if (client === undefined || uri === undefined) return
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

/** Waits for the deliveries started so far (on `app.close()`, and in tests). */
export async function settleDeliveries (ctx: ProviderContext): Promise<void> {
  const pending = inFlight.get(ctx)
  if (pending === undefined) return
  // Deliveries started while waiting are waited for too.
  for (let batch = [...pending]; batch.length > 0; batch = [...pending]) await Promise.all(batch)
}
