import type { UserAdapter } from '../../contracts/users.js'
import type { UserClaims } from '../../contracts/claims.js'
import { hashPassword, verifyPassword } from './password.js'

/** One user of `staticUsers([...])`; the password is hashed (scrypt) when the adapter is built. */
export interface StaticUser {
  username: string
  /** The user's stable subject identifier. Default: the username. */
  sub?: string
  /** A plain password, hashed with scrypt at startup and then forgotten. Demo use only. */
  password?: string
  /** A `hashPassword()` string; preferred over `password`. */
  passwordHash?: string
  /** Claims returned for this user (filtered by scope). */
  claims?: Omit<UserClaims, 'sub'>
  /** scrypt cost override (tests use a low N to stay fast). */
  cost?: { N?: number, r?: number, p?: number }
}

/**
 * A fixed list of users, for demos, tests and small deployments. Passwords are kept only as
 * scrypt hashes and compared in constant time; an unknown username is checked against a dummy
 * hash so it costs the same time as a wrong password (no user enumeration by timing).
 *
 * @example
 * staticUsers([{ username: 'demo', password: 'demo', claims: { name: 'Demo User' } }])
 */
export function staticUsers (users: StaticUser[]): UserAdapter {
  const ready = Promise.all(users.map(async (user) => {
    if (user.passwordHash === undefined && user.password === undefined) {
      throw new TypeError(`staticUsers: user "${user.username}" needs password or passwordHash`)
    }
    const passwordHash = user.passwordHash ?? await hashPassword(user.password!, user.cost)
    return { username: user.username, sub: user.sub ?? user.username, passwordHash, claims: user.claims ?? {} }
  })).then(async (entries) => {
    const byUsername = new Map(entries.map((entry) => [entry.username, entry]))
    const bySub = new Map(entries.map((entry) => [entry.sub, entry]))
    // Same cost as the first user's hash so an unknown name takes as long as a wrong password.
    const dummyHash = await hashPassword(Math.random().toString(36), users[0]?.cost)
    return { byUsername, bySub, dummyHash }
  })
  // Surface a bad user list at registration rather than at the first login.
  ready.catch(() => {})

  return {
    async authenticate (username: string, password: string): Promise<string | null> {
      const { byUsername, dummyHash } = await ready
      const user = byUsername.get(username)
      const ok = await verifyPassword(user?.passwordHash ?? dummyHash, password)
      return ok && user !== undefined ? user.sub : null
    },
    async claims (sub: string): Promise<UserClaims | null> {
      const { bySub } = await ready
      const user = bySub.get(sub)
      return user === undefined ? null : { ...user.claims, sub }
    },
  }
}
