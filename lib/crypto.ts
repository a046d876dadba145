import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** A random token of `bytes` bytes, base64url (32 bytes = 256 bits for tokens and secrets). */
export function randomToken (bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}

/** SHA-256, base64url: how codes, tokens and secrets are keyed in the store. */
export function sha256 (value: string): string {
  return createHash('sha256').update(value).digest('base64url')
}

/**
 * Compares two strings in constant time. Both sides are hashed first so the comparison takes
 * the same time whatever their lengths (timingSafeEqual needs equal-length inputs).
 */
export function safeEqual (a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest()
  const right = createHash('sha256').update(b).digest()
  return timingSafeEqual(left, right)
}

/** Seconds since the epoch. */
export function nowSeconds (): number {
  return Math.floor(Date.now() / 1000)
}
