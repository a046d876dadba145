import t from 'tap'
import { sha256 } from '../../lib/tokens/crypto.js'
import {
  familyIdForCode, narrowToClient, newFamilyRefreshToken, normalizeScope, openSuccessor, parseRefreshToken, sealSuccessor,
} from '../../lib/tokens/refresh-token.js'
import type { ClientRecord } from '../../lib/contracts/store.js'

t.test('family refresh tokens: grant id, family id and 256 random bits; anything else does not parse', async (t) => {
  const { token, tokenHash } = newFamilyRefreshToken('grant-1', 'family-1')
  t.match(token, /^grant-1~family-1~[\w-]{43}$/)
  t.same(parseRefreshToken(token), { grantId: 'grant-1', familyId: 'family-1', tokenHash })
  t.equal(tokenHash, sha256(token), 'stored by the hash of the whole value')
  t.not(newFamilyRefreshToken('grant-1', 'family-1').token, token)
  for (const bad of ['', 'opaque', 'a~b', `a~b~${'x'.repeat(42)}`, `a~b~c~${'x'.repeat(43)}`, `a{b~c~${'x'.repeat(43)}`, `~b~${'x'.repeat(43)}`, `${'g'.repeat(65)}~b~${'x'.repeat(43)}`]) {
    t.equal(parseRefreshToken(bad), undefined, `refused: ${bad.slice(0, 20)}`)
  }
  t.equal(familyIdForCode('h'), familyIdForCode('h'), 'a code always names the same family')
  t.not(familyIdForCode('h'), familyIdForCode('i'))
  t.match(familyIdForCode('h'), /^[\w-]{22}$/)
})

t.test('a sealed successor opens only with the presented token', async (t) => {
  const presented = newFamilyRefreshToken('g', 'f')
  const parsed = parseRefreshToken(presented.token)!
  const successor = newFamilyRefreshToken('g', 'f').token
  const sealed = sealSuccessor(presented.token, parsed, successor)
  t.notMatch(sealed, successor.split('~')[2]!, 'the successor is not readable in the sealed copy')
  t.equal(openSuccessor(presented.token, parsed, sealed), successor)
  t.not(sealSuccessor(presented.token, parsed, successor), sealed, 'a fresh IV each time')
  const other = newFamilyRefreshToken('g', 'f')
  t.equal(openSuccessor(other.token, parseRefreshToken(other.token)!, sealed), undefined, 'another token cannot open it')
  t.equal(openSuccessor(presented.token, parsed, `${sealed}x`), undefined, 'a tampered copy does not open')
  t.equal(openSuccessor(presented.token, parsed, 'a.b'), undefined, 'a malformed copy does not open')
  t.equal(openSuccessor(presented.token, parsed, ''), undefined)
})

t.test('scope helpers: normalized for comparison, narrowed to the client', async (t) => {
  t.equal(normalizeScope(undefined), undefined)
  t.equal(normalizeScope('profile openid  profile'), 'openid profile')
  const client = { scope: 'openid profile' } as ClientRecord
  t.equal(narrowToClient(client, 'openid profile email'), 'openid profile')
  t.equal(narrowToClient(client, 'email'), '')
  t.equal(narrowToClient(client, ' profile  email openid profile '), 'profile openid', 'distinct values in their order, single spaces')
})
