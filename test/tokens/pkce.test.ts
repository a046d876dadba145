import t from 'tap'
import { isWellFormedChallenge, isWellFormedVerifier, s256Challenge, verifyPkce } from '../../lib/tokens/pkce.js'
import { issueCode, exchangeCode, tokenApp } from '../helpers/codes.js'
import { sha256 } from '../../lib/tokens/crypto.js'

// RFC 7636 Appendix B.
const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'

t.test('RFC 7636 Appendix B vector', async (t) => {
  t.equal(s256Challenge(verifier), challenge)
  t.equal(verifyPkce(verifier, challenge, 'S256'), true)
  t.equal(isWellFormedChallenge(challenge), true)
  t.equal(isWellFormedVerifier(verifier), true)
})

t.test('a wrong or malformed verifier fails', async (t) => {
  t.equal(verifyPkce(`${verifier.slice(0, -1)}l`, challenge, 'S256'), false, 'one character off')
  t.equal(verifyPkce(verifier.slice(0, 42), s256Challenge(verifier.slice(0, 42)), 'S256'), false, 'shorter than 43 characters (RFC 7636 §4.1)')
  t.equal(verifyPkce(`${verifier}!`, s256Challenge(`${verifier}!`), 'S256'), false, 'outside the unreserved set')
  t.equal(verifyPkce('a'.repeat(129), s256Challenge('a'.repeat(129)), 'S256'), false, 'longer than 128 characters')
  t.equal(verifyPkce(challenge, challenge, 'S256'), false, 'the challenge itself is not a verifier of itself')
  t.equal(isWellFormedChallenge(`${challenge}=`), false, 'no padding')
})

t.test('the token endpoint checks the Appendix B pair end to end', async (t) => {
  const { app, store } = await tokenApp(t)
  const issued = await issueCode(store)
  // Rewrite the stored code's challenge to the RFC's, keeping everything else.
  const result = await store.consumeCode(sha256(issued.code))
  t.equal(result.status, 'consumed')
  if (result.status !== 'consumed') return
  await store.saveCode(sha256(issued.code), { ...result.record, codeChallenge: challenge })

  const wrong = await exchangeCode(app, { ...issued, verifier: `${verifier.slice(0, -1)}l` })
  t.equal(wrong.statusCode, 400)
  t.equal(wrong.json().error, 'invalid_grant')

  await store.saveCode(sha256(issued.code), { ...result.record, codeChallenge: challenge })
  const right = await exchangeCode(app, { ...issued, verifier })
  t.equal(right.statusCode, 200)
})
