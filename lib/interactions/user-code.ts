import { randomInt } from 'node:crypto'
import { sha256 } from '../tokens/crypto.js'

/**
 * RFC 8628 §6.1: user codes people can read out and type. Twenty consonants (no vowels, so no
 * words; no digits, so nothing to confuse with letters), eight of them: 20^8 ≈ 2.6 × 10^10
 * codes, about 34.6 bits. Shown as `XXXX-XXXX`; entry ignores case, dashes and spaces.
 *
 * A code lives `ttl.deviceCode` seconds (10 minutes by default) and wrong entries are limited
 * per browser and per IP (`rateLimit.userCodeFailures` per `userCodeWindow`), so an attacker
 * guessing online has a negligible chance (§5.1): 10 guesses per 15 minutes per IP against at
 * most a few thousand live codes. The store keeps only the SHA-256 of the normalised code.
 */
export const userCodeAlphabet = 'BCDFGHJKLMNPQRSTVWXZ'
export const userCodeLength = 8

const alphabet = new Set(userCodeAlphabet)

/** A fresh user code, normalised (8 characters, no dash), from a CSPRNG. */
export function newUserCode (): string {
  let code = ''
  // randomInt is uniform (rejection sampling), so every code is equally likely.
  for (let index = 0; index < userCodeLength; index++) code += userCodeAlphabet[randomInt(userCodeAlphabet.length)]
  return code
}

/** `BCDFGHJK` → `BCDF-GHJK`, as shown to the user and put in `verification_uri_complete`. */
export function formatUserCode (code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`
}

/**
 * What a person typed, normalised: upper case, dashes and white space dropped. Undefined when
 * it cannot be a user code (wrong length or a character outside the alphabet).
 */
export function normalizeUserCode (typed: unknown): string | undefined {
  if (typeof typed !== 'string' || typed.length > 64) return undefined
  const code = typed.toUpperCase().replace(/[\s-]/g, '')
  if (code.length !== userCodeLength) return undefined
  for (const char of code) if (!alphabet.has(char)) return undefined
  return code
}

/** The store key of a normalised user code. */
export function hashUserCode (code: string): string {
  return sha256(`device-user-code\n${code}`)
}
