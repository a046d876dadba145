import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'
import { nowSeconds, sha256 } from '../tokens/crypto.js'

/**
 * Brute-force limit on client authentication (RFC 6749 §2.3.1, §10.10): failures are counted
 * per client_id and per IP in the store, so the limit holds across instances sharing it.
 *
 * Written on the Store rather than with @fastify/rate-limit: that plugin counts requests, not
 * failures, and would need a second Redis wiring beside the Store the provider already has.
 */
export class ClientAuthLimits {
  constructor (private readonly ctx: ProviderContext) {}

  #keys (clientId: string | undefined, ip: string): string[] {
    const keys = [`client-auth-fail:ip:${ip}`]
    if (clientId !== undefined) keys.push(`client-auth-fail:client:${sha256(clientId)}`)
    return keys
  }

  /**
   * Throws 429 while this client_id or IP is over the limit (checked before any secret is
   * compared). Returns whether the client has failures on record, so a success only writes
   * to the store when there is something to clear.
   */
  async check (clientId: string | undefined, ip: string): Promise<boolean> {
    const max = this.ctx.options.rateLimit.clientAuthFailures
    const keys = this.#keys(clientId, ip)
    // One store step where the store offers it (one Redis command instead of two).
    const counters = this.ctx.store.getCounters !== undefined
      ? await this.ctx.store.getCounters(keys)
      : await Promise.all(keys.map(async (key) => await this.ctx.store.getCounter(key)))
    const now = nowSeconds()
    const wait = Math.max(0, ...counters.map((counter) => counter !== undefined && counter.count >= max ? counter.resetAt - now : 0))
    if (wait > 0) {
      throw new OAuthError('invalid_client', 'too many failed client authentications; retry later', {
        statusCode: 429,
        headers: { 'retry-after': String(Math.max(1, wait)) },
      })
    }
    return counters[1] !== undefined
  }

  async recordFailure (clientId: string | undefined, ip: string): Promise<void> {
    const window = this.ctx.options.rateLimit.clientAuthWindow
    await Promise.all(this.#keys(clientId, ip).map((key) => this.ctx.store.incrementCounter(key, window)))
  }

  /** A client that authenticates clears its own counter, so a flood of bad guesses cannot keep it locked out for long. */
  async recordSuccess (clientId: string): Promise<void> {
    await this.ctx.store.resetCounter(`client-auth-fail:client:${sha256(clientId)}`)
  }
}
