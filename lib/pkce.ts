import { createHash } from 'node:crypto'
import { safeEqual } from './crypto.js'

/** RFC 7636 §4.1: 43–128 characters of the unreserved set. */
const verifierPattern = /^[A-Za-z0-9\-._~]{43,128}$/
/** RFC 7636 §4.2: an S256 challenge is BASE64URL(SHA256(verifier)): exactly 43 characters, no padding. */
const s256ChallengePattern = /^[A-Za-z0-9\-_]{43}$/

export function isWellFormedChallenge (challenge: string): boolean {
  return s256ChallengePattern.test(challenge)
}

export function isWellFormedVerifier (verifier: string): boolean {
  return verifierPattern.test(verifier)
}

/** RFC 7636 §4.2: code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier))). */
export function s256Challenge (verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url')
}

/** RFC 7636 §4.6: the verifier must hash to the stored challenge (constant-time comparison). */
export function verifyPkce (verifier: string, challenge: string, method: 'S256'): boolean {
  if (method !== 'S256' || !isWellFormedVerifier(verifier)) return false
  return safeEqual(s256Challenge(verifier), challenge)
}
