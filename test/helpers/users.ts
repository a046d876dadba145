import { staticUsers } from '../../lib/index.js'

/** Test users with a cheap scrypt cost (N=1024) so logins stay fast in tests. */
export const testUsers = staticUsers([
  { username: 'demo', password: 'demo', sub: 'demo', cost: { N: 1024 }, claims: { name: 'Demo User', email: 'demo@example.com', email_verified: true } },
  { username: 'alice', password: 'wonderland', sub: 'alice', cost: { N: 1024 }, claims: { name: 'Alice Liddell', email: 'alice@example.com', email_verified: true } },
])
