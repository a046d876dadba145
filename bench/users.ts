import { createHash, timingSafeEqual } from 'node:crypto'
import type { UserAdapter, UserClaims } from '../lib/index.js'

/** Every bench user (`user-<anything>`) signs in with this password. */
export const benchPassword = 'bench-password'

const expected = createHash('sha256').update(benchPassword).digest()

/**
 * BENCH ONLY — never use this outside bench/. A user adapter whose password check is one
 * SHA-256 and a constant-time compare instead of scrypt, so the login-flow benchmark measures
 * the provider (pages, cookies, store, signatures) rather than the password hash. The hash cost
 * is measured on its own (`scrypt-verify` scenario, real `staticUsers`) and the README shows
 * how the two combine. Any username starting with `user-` exists, so each simulated browser
 * can sign in as a user of its own and see the consent page every time.
 */
export function benchUsers (): UserAdapter {
  return {
    async authenticate (username: string, password: string): Promise<string | null> {
      const given = createHash('sha256').update(password).digest()
      const ok = timingSafeEqual(given, expected)
      return ok && username.startsWith('user-') ? username : null
    },
    async claims (sub: string): Promise<UserClaims | null> {
      if (!sub.startsWith('user-')) return null
      return { sub, name: `Bench ${sub}`, email: `${sub}@bench.example`, email_verified: true, preferred_username: sub }
    },
  }
}
