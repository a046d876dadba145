import type { ProviderContext } from '../contracts/context.js'
import { nowSeconds, sha256 } from '../tokens/crypto.js'
import { BoundedCache } from '../tokens/bounded-cache.js'

/** What one counter counts: its store keys, and its limit and window in the options. */
export interface FailureCounterKind {
  /** Store key of the name's counter, e.g. `login-fail:user:<hash>`. */
  nameKey: (name: string) => string
  /** Store key of the IP's counter, e.g. `login-fail:ip:<ip>`. */
  ipKey: (ip: string) => string
  /** Failures within the window that lock the name or the IP out, and the window in seconds. */
  limit: (ctx: ProviderContext) => { max: number, window: number }
}

/** What a check found: how long the name or the IP stays locked, and whether the name has failures on record. */
export interface FailureCheck {
  /** Seconds until the lockout ends; 0 when an attempt may be made. */
  lockedFor: number
  /** Whether the name's counter exists, so a success writes to the store only when there is something to clear. */
  nameHasFailures: boolean
}

/**
 * Reads the counters of `keys`, in their order (undefined: no failures on record). An object
 * with a method rather than a function: the caller's per-request reader is an instance of a
 * class, not a closure made on every request.
 */
export interface CounterRead {
  read: (keys: readonly string[]) => Promise<Array<{ count: number, resetAt: number } | undefined>>
}

/**
 * Brute-force limits (RFC 6749 §10.10; §2.3.1 for client credentials): failures counted per
 * name (a username, a client_id) and per IP in the store, so a limit holds across every
 * instance sharing it. Past the threshold, attempts for that name or from that IP are refused
 * (even with the right password or secret) until the window ends. A success clears the name's
 * counter, not the IP's: one IP may try many names.
 *
 * Written on the Store rather than with @fastify/rate-limit: that plugin counts requests, not
 * failures, and would need a second Redis wiring beside the Store the provider already has.
 */
export class FailureCounter {
  constructor (private readonly ctx: ProviderContext, private readonly kind: FailureCounterKind) {}

  #keys (name: string | undefined, ip: string): string[] {
    return name === undefined ? [this.kind.ipKey(ip)] : [this.kind.nameKey(name), this.kind.ipKey(ip)]
  }

  /**
   * How long `name` (when known) or `ip` is locked out, read in one store step where the store
   * offers it. `read`, when given, reads the counters instead (with something else in the same
   * step: client authentication reads the client along, issue 32).
   */
  async check (name: string | undefined, ip: string, read?: CounterRead): Promise<FailureCheck> {
    const { max } = this.kind.limit(this.ctx)
    const keys = this.#keys(name, ip)
    // One store step where the store offers it (one Redis command instead of two).
    const counters = read !== undefined
      ? await read.read(keys)
      : this.ctx.store.getCounters !== undefined
        ? await this.ctx.store.getCounters(keys)
        : await Promise.all(keys.map(async (key) => await this.ctx.store.getCounter(key)))
    const now = nowSeconds()
    let lockedFor = 0
    for (const counter of counters) {
      if (counter !== undefined && counter.count >= max) lockedFor = Math.max(lockedFor, counter.resetAt - now)
    }
    return { lockedFor, nameHasFailures: name !== undefined && counters[0] !== undefined }
  }

  /** Counts a failure; returns the lockout length when this failure reached the threshold (else 0). */
  async recordFailure (name: string | undefined, ip: string): Promise<number> {
    const { max, window } = this.kind.limit(this.ctx)
    const counters = await Promise.all(this.#keys(name, ip).map((key) => this.ctx.store.incrementCounter(key, window)))
    const now = nowSeconds()
    let lockedFor = 0
    for (const counter of counters) {
      if (counter.count >= max) lockedFor = Math.max(lockedFor, counter.resetAt - now)
    }
    return lockedFor
  }

  /** A success clears the name's counter, so a flood of bad guesses cannot keep it locked out for long. */
  async recordSuccess (name: string): Promise<void> {
    await this.ctx.store.resetCounter(this.kind.nameKey(name))
  }
}

/**
 * Failed logins, per username and per IP. Usernames are hashed (the store never holds what
 * users typed), after NFKC and lower case so that look-alike spellings share one counter.
 */
export const loginFailureKind: FailureCounterKind = {
  nameKey: (username) => `login-fail:user:${sha256(username.normalize('NFKC').toLowerCase())}`,
  ipKey: (ip) => `login-fail:ip:${ip}`,
  limit: (ctx) => ({ max: ctx.options.rateLimit.loginFailures, window: ctx.options.rateLimit.loginWindow }),
}

/**
 * The counter keys of recent client_ids: every token request reads its client's counter, and
 * a client_id is hashed the same way every time. Kept only for ids of a sane length, and the
 * map is dropped whole when it fills (the ids come from requests, registered or not).
 */
const clientKeys = new BoundedCache<string>(1000, 256)

function clientCounterKey (clientId: string): string {
  return clientKeys.memo(clientId, hashedClientKey)
}

function hashedClientKey (clientId: string): string {
  return `client-auth-fail:client:${sha256(clientId)}`
}

/** Failed client authentications, per client_id (hashed) and per IP. */
export const clientAuthFailureKind: FailureCounterKind = {
  nameKey: clientCounterKey,
  ipKey: (ip) => `client-auth-fail:ip:${ip}`,
  limit: (ctx) => ({ max: ctx.options.rateLimit.clientAuthFailures, window: ctx.options.rateLimit.clientAuthWindow }),
}

/**
 * Wrong device user codes (RFC 8628 §5.1), per browser (its id cookie, hashed) and per IP:
 * the same limits across instances as logins, on the same counters.
 */
export const userCodeFailureKind: FailureCounterKind = {
  nameKey: (browserId) => `user-code-fail:browser:${sha256(browserId)}`,
  ipKey: (ip) => `user-code-fail:ip:${ip}`,
  limit: (ctx) => ({ max: ctx.options.rateLimit.userCodeFailures, window: ctx.options.rateLimit.userCodeWindow }),
}
