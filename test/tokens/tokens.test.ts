import t from 'tap'
import { createHash } from 'node:crypto'
import { atHash, refreshTokenRecord, scopeSet, newRefreshToken } from '../../lib/tokens/issue.js'
import { sha256 } from '../../lib/tokens/crypto.js'
import type { ProviderContext } from '../../lib/contracts/context.js'

t.test('at_hash is the left half of the hash of the access token, base64url (OIDC Core §3.1.3.6)', async (t) => {
  const token = 'jHkWEdUXMU1BwAsC4vtUsZwnNLXGbN9pC3ZEUDeNf9U'
  const sha256Digest = createHash('sha256').update(token).digest()
  t.equal(atHash(token, 'RS256'), sha256Digest.subarray(0, 16).toString('base64url'))
  t.equal(atHash(token, 'ES256').length, 22, '128 bits')
  t.not(atHash(token, 'RS256'), atHash(`${token}x`, 'RS256'))
})

t.test('refresh tokens are 256-bit opaque values stored by hash', async (t) => {
  const { token, tokenHash } = newRefreshToken()
  t.equal(Buffer.from(token, 'base64url').length, 32)
  t.equal(tokenHash, sha256(token))
  t.not(newRefreshToken().token, token)
})

t.test('a refresh token never outlives its family', async (t) => {
  const ctx = { options: { ttl: { refreshToken: 3600 } } } as unknown as ProviderContext
  const now = Math.floor(Date.now() / 1000)
  const base = { clientId: 'c', grantId: 'g', accountId: 'a', scope: 'openid', authTime: now }
  const early = refreshTokenRecord(ctx, { ...base, familyExpiresAt: now + 100 })
  t.equal(early.expiresAt, now + 100)
  const late = refreshTokenRecord(ctx, { ...base, familyExpiresAt: now + 10_000 })
  t.ok(late.expiresAt - late.issuedAt === 3600)
})

t.test('scopeSet splits on spaces and drops empties and duplicates', async (t) => {
  t.same([...scopeSet('openid  profile openid')], ['openid', 'profile'])
  t.same([...scopeSet(undefined)], [])
  t.same([...scopeSet('')], [])
})

t.test('scopeValues: the distinct values of a scope string, one shared set per string (issue 32)', async (t) => {
  const { scopeValues } = await import('../../lib/tokens/issue.js')
  t.same([...scopeValues(' openid  profile openid ')], ['openid', 'profile'], 'as scopeSet: empty values and repeats dropped')
  t.equal(scopeValues('openid email'), scopeValues('openid email'), 'the same string, the same set')
  const long = `openid ${'x'.repeat(600)}`
  t.not(scopeValues(long), scopeValues(long), 'a long string is not kept')
  t.same([...scopeValues(long)], ['openid', 'x'.repeat(600)])
  // More distinct strings than the map holds: it is dropped and refilled, answers stay right.
  const wrong = Array.from({ length: 600 }, (_, i) => i).filter((i) => !scopeValues(`s${i} openid`).has(`s${i}`))
  t.same(wrong, [])
  t.same([...scopeValues('s1 openid')], ['s1', 'openid'])
  t.same([...scopeValues('')], [])
})
