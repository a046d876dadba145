import type { ProviderContext } from '../contracts/context.js'
import { nowSeconds, sha256 } from '../tokens/crypto.js'

/**
 * Brute-force protection for the login form (RFC 6749 §10.10, §2.3.1): failed attempts are
 * counted per username and per client IP in the store, so the limit holds across every
 * instance sharing it. Past the threshold, logins for that username or from that IP are refused
 * (even with the right password) until the window ends.
 */
export class LoginLimits {
  constructor (private readonly ctx: ProviderContext) {}

  #keys (username: string, ip: string): [string, string] {
    // Usernames are hashed: the store never holds what users typed.
    return [`login-fail:user:${sha256(username.normalize('NFKC').toLowerCase())}`, `login-fail:ip:${ip}`]
  }

  /** Seconds until the lockout ends, or 0 when a login may be tried. */
  async lockedFor (username: string, ip: string): Promise<number> {
    const max = this.ctx.options.rateLimit.loginFailures
    const keys = this.#keys(username, ip)
    // One store step where the store offers it (one Redis command instead of two).
    const counters = this.ctx.store.getCounters !== undefined
      ? await this.ctx.store.getCounters(keys)
      : await Promise.all(keys.map(async (key) => await this.ctx.store.getCounter(key)))
    const now = nowSeconds()
    let wait = 0
    for (const counter of counters) {
      if (counter !== undefined && counter.count >= max) wait = Math.max(wait, counter.resetAt - now)
    }
    return wait
  }

  /** Counts a failure; returns the lockout length when this failure reached the threshold. */
  async recordFailure (username: string, ip: string): Promise<number> {
    const window = this.ctx.options.rateLimit.loginWindow
    const max = this.ctx.options.rateLimit.loginFailures
    const counters = await Promise.all(this.#keys(username, ip).map((key) => this.ctx.store.incrementCounter(key, window)))
    const now = nowSeconds()
    let wait = 0
    for (const counter of counters) {
      if (counter.count >= max) wait = Math.max(wait, counter.resetAt - now)
    }
    return wait
  }

  /** A successful login clears the username's counter (not the IP's: one IP may try many names). */
  async recordSuccess (username: string, ip: string): Promise<void> {
    await this.ctx.store.resetCounter(this.#keys(username, ip)[0])
  }
}
