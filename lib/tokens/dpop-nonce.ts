import { createHmac } from 'node:crypto'
import { safeEqual } from './crypto.js'
import type { DpopNonceSource } from '../contracts/context.js'

/**
 * Server-provided DPoP nonces (RFC 9449 §8), stateless: a nonce is a time slot and its HMAC
 * under a secret all instances share, so any instance accepts a nonce another one issued, with
 * no store round trip. A nonce stays good for its slot and the next one.
 *
 * @example
 * const nonces = new DpopNonces(cookieSecret)
 * reply.header('dpop-nonce', nonces.current())
 * nonces.isValid(proofNonce) // true for this slot's and the previous slot's nonces
 */
export class DpopNonces implements DpopNonceSource {
  readonly #secret: string
  readonly #slotSeconds: number
  readonly #now: () => number

  constructor (secret: string, options: { slotSeconds?: number, now?: () => number } = {}) {
    this.#secret = secret
    this.#slotSeconds = options.slotSeconds ?? 120
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000))
  }

  #nonceFor (slot: number): string {
    const mac = createHmac('sha256', this.#secret).update(`dpop-nonce:${slot}`).digest('base64url').slice(0, 22)
    return `${slot.toString(36)}.${mac}`
  }

  current (): string {
    return this.#nonceFor(Math.floor(this.#now() / this.#slotSeconds))
  }

  isValid (nonce: string | undefined): boolean {
    if (nonce === undefined || nonce.length > 64) return false
    const slot = Math.floor(this.#now() / this.#slotSeconds)
    const given = Number.parseInt(nonce.split('.')[0] ?? '', 36)
    if (given !== slot && given !== slot - 1) return false
    return safeEqual(nonce, this.#nonceFor(given))
  }
}
