import type { ProviderContext } from '../contracts/context.js'
import { nowSeconds, randomToken, sha256 } from '../tokens/crypto.js'

/** RFC 9126 §2.2: the URN prefix of the request URIs this provider issues. */
export const requestUriPrefix = 'urn:ietf:params:oauth:request_uri:'

export interface PushedRequest {
  clientId: string
  /** The validated authorization request, as `serializeRequest` writes it. */
  params: Record<string, string>
  expiresAt: number
}

/**
 * Pushed requests live in the store's interaction records, whose `consumeInteraction` is the
 * atomic single-use take that RFC 9126 §2.2 and §4 need (one winner across instances, memory
 * and Redis), under an id no browser interaction can have: `par:` and the SHA-256 of the
 * request URI's random part, so the store never sees the URI itself. Such a record can never be
 * driven as a login or consent interaction: its browser binding and CSRF token are random
 * values never sent to anyone.
 */
function recordId (reference: string): string {
  return `par:${sha256(reference)}`
}

/** Stores a validated pushed request and returns its single-use `request_uri`. */
export async function savePushedRequest (ctx: ProviderContext, request: Omit<PushedRequest, 'expiresAt'>, ttlSeconds: number): Promise<{ requestUri: string, expiresIn: number }> {
  const reference = randomToken(32)
  await ctx.store.saveInteraction({
    interactionId: recordId(reference),
    clientId: request.clientId,
    params: request.params,
    csrfToken: randomToken(24),
    browserId: randomToken(24),
    expiresAt: nowSeconds() + ttlSeconds,
  })
  return { requestUri: requestUriPrefix + reference, expiresIn: ttlSeconds }
}

/** Takes the pushed request (once, atomically); undefined when unknown, used or expired. */
export async function consumePushedRequest (ctx: ProviderContext, requestUri: string): Promise<PushedRequest | undefined> {
  const reference = requestUri.slice(requestUriPrefix.length)
  if (!/^[A-Za-z0-9_-]{43}$/.test(reference)) return undefined
  const record = await ctx.store.consumeInteraction(recordId(reference))
  if (record === undefined || record.expiresAt <= nowSeconds()) return undefined
  return { clientId: record.clientId, params: record.params, expiresAt: record.expiresAt }
}
