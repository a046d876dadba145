import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { localKey } from '../../lib/adapters/keys/local.js'
import { JwtVerifier, signJwt } from '../../lib/tokens/jwt.js'
import { KeyRing } from '../../lib/tokens/keyring.js'
import type { KeySet } from '../../lib/contracts/keys.js'

/**
 * The verifier remembers the signatures it checked (an API introspects the same access token on
 * every call), never its verdict: every claim check runs on every call, and a key reload forgets
 * every signature made by keys it no longer holds.
 */

const issuer = 'https://op.example.com'
const log = { warn () {}, info () {} }

async function keySet (): Promise<KeySet> {
  const key = await localKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'ES256')
  return { signingKey: key.signingKey, publicKeys: [key.publicJwk] }
}

t.test('a remembered signature still goes through typ, iss, exp, nbf and aud', async (t) => {
  const keys = await keySet()
  const ring = await KeyRing.load({ load: async () => keys }, { log }, issuer)
  const now = Math.floor(Date.now() / 1000)
  const token = await signJwt(keys.signingKey, 'at+jwt', { iss: issuer, sub: 'alice', aud: 'api', exp: now + 600, iat: now, jti: 'j1', act: { sub: 'agent' } })

  const first = await ring.verifier.verify(token, { typ: 'at+jwt' })
  t.equal(first?.sub, 'alice', 'verified the first time')
  const again = await ring.verifier.verify(token, { typ: 'at+jwt' })
  t.same(again, first, 'the same payload the second time')
  t.ok(Object.isFrozen(again) && Object.isFrozen((again as { act: object }).act), 'shared with every caller, so frozen to the leaves')

  t.equal(await ring.verifier.verify(token, { typ: 'JWT' }), undefined, 'another typ is refused on a remembered token too')
  t.equal(await ring.verifier.verify(token, { typ: 'at+jwt', audience: 'other' }), undefined, 'another audience is refused')
  t.equal((await ring.verifier.verify(token, { typ: 'application/at+jwt', audience: 'api' }))?.jti, 'j1', 'the audience it names, typ with its media-type prefix')

  const [header, payload, signature] = token.split('.') as [string, string, string]
  const forged = Buffer.from(JSON.stringify({ ...first, sub: 'mallory' })).toString('base64url')
  t.equal(await ring.verifier.verify(`${header}.${forged}.${signature}`, { typ: 'at+jwt' }), undefined, 'a remembered signature under another payload is not a match')
  t.equal(await ring.verifier.verify(`${header}.${payload}.${signature.slice(0, -2)}`, { typ: 'at+jwt' }), undefined, 'nor a truncated signature')

  const realNow = Date.now
  Date.now = () => realNow() + 601_000
  try {
    t.equal(await ring.verifier.verify(token, { typ: 'at+jwt' }), undefined, 'expired: refused although its signature was remembered')
    t.equal((await ring.verifier.verify(token, { typ: 'at+jwt', ignoreExpiry: true }))?.sub, 'alice', 'an expired hint is still read when the caller allows it')
  } finally {
    Date.now = realNow
  }

  const notYet = await signJwt(keys.signingKey, 'at+jwt', { iss: issuer, sub: 'bob', aud: 'api', exp: now + 600, nbf: now + 300, iat: now, jti: 'j2' })
  t.equal(await ring.verifier.verify(notYet, { typ: 'at+jwt' }), undefined, 'not yet valid')
  t.equal(await ring.verifier.verify(notYet, { typ: 'at+jwt' }), undefined, 'still not yet valid the second time')

  const foreign = await signJwt(keys.signingKey, 'at+jwt', { iss: 'https://elsewhere.example', sub: 'alice', exp: now + 600, iat: now, jti: 'j3' })
  t.equal(await ring.verifier.verify(foreign, { typ: 'at+jwt' }), undefined, 'another issuer, even under our key')
})

t.test('a key withdrawn by a reload takes its remembered signatures with it', async (t) => {
  const before = await keySet()
  const after = await keySet()
  let current = before
  const ring = await KeyRing.load({ load: async () => current }, { log }, issuer)
  const now = Math.floor(Date.now() / 1000)
  const token = await signJwt(before.signingKey, 'at+jwt', { iss: issuer, sub: 'alice', aud: 'api', exp: now + 600, iat: now, jti: 'j1' })
  t.equal((await ring.verifier.verify(token, { typ: 'at+jwt' }))?.sub, 'alice', 'verified and remembered')
  current = after
  await ring.reload()
  t.equal(await ring.verifier.verify(token, { typ: 'at+jwt' }), undefined, 'refused once its key is gone from the set')
})

t.test('it holds a bounded number of signatures, the oldest going first', async (t) => {
  const keys = await keySet()
  const verifier = new JwtVerifier(keys.publicKeys, issuer, 3)
  const now = Math.floor(Date.now() / 1000)
  const tokens = await Promise.all([0, 1, 2, 3].map(async (index) =>
    await signJwt(keys.signingKey, 'at+jwt', { iss: issuer, sub: `u${index}`, exp: now + 600, iat: now, jti: `j${index}` })))
  const remembered = []
  for (const token of tokens) remembered.push(await verifier.verify(token, { typ: 'at+jwt' }))
  t.equal(await verifier.verify(tokens[3] as string, { typ: 'at+jwt' }), remembered[3], 'the newest is remembered: the same object')
  t.equal(await verifier.verify(tokens[1] as string, { typ: 'at+jwt' }), remembered[1], 'so is the second')
  const oldest = await verifier.verify(tokens[0] as string, { typ: 'at+jwt' })
  t.equal(oldest?.sub, 'u0', 'the oldest, pushed out, still verifies')
  t.not(oldest, remembered[0], 'afresh: a newly decoded payload')
})
