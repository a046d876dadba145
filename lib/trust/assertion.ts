import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWK, type JWTPayload } from 'jose'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError, StoreUnavailableError } from '../contracts/errors.js'
import { idJagType, type KnownTrustedIssuer } from '../contracts/trust.js'
import { nowSeconds } from '../tokens/crypto.js'
import { clockSkew, consumeAssertionId } from '../clients/assertion.js'

/**
 * What a JWT of another issuer is presented as:
 * - `id-jag`: an Identity Assertion JWT Authorization Grant at the jwt-bearer grant
 *   (draft-ietf-oauth-identity-assertion-authz-grant §4.3): `typ` `oauth-id-jag+jwt`, `aud` our
 *   issuer, `client_id`, `jti` once, `iat`, short `exp`;
 * - `workload`: a workload's JWT at the jwt-bearer grant (RFC 7523 §3): `aud` our token endpoint,
 *   `jti` once, short `exp`;
 * - `subject`: a `subject_token` or `actor_token` of type `jwt` in a token exchange (RFC 8693
 *   §2.1): the issuer's own lifetime, no single use (a token may be exchanged more than once).
 */
export type AssertionProfile = 'id-jag' | 'workload' | 'subject'

export interface VerifiedAssertion {
  issuer: KnownTrustedIssuer
  payload: JWTPayload
}

/** Longest accepted JWT, in characters: larger ones are refused before any parsing. */
const maxAssertionLength = 16 * 1024

const refused = (description: string): OAuthError => new OAuthError('invalid_grant', description)

/**
 * The one validator of JWTs from trusted issuers (ID-JAGs, workload JWTs, token-exchange subject
 * tokens). Checks, in order, so that nothing costly runs for garbage: size and shape; `alg`
 * asymmetric and one the issuer allows (never `none`, never HS*); `typ` for the profile; `iss`
 * a trusted issuer allowing this profile; the signature with the issuer's keys (fetched through
 * the SSRF-safe fetcher, refetched once per cooldown on an unknown `kid`); `aud`, `exp`, `nbf`,
 * `iat` with 30 s of skew (RFC 7523 §3 items 3–6); for assertions a bounded lifetime and a
 * single-use `jti` (item 7). Every refusal is `invalid_grant` (RFC 7523 §3.1) with one line
 * that names the check, never a 500.
 *
 * @example
 * const { issuer, payload } = await verifyTrustedJwt(ctx, params.assertion, 'id-jag', [ctx.issuer])
 */
export async function verifyTrustedJwt (
  ctx: ProviderContext,
  jwt: string,
  profile: AssertionProfile,
  audiences: readonly string[]
): Promise<VerifiedAssertion> {
  const what = profile === 'subject' ? 'the token' : 'the assertion'
  if (jwt.length > maxAssertionLength || jwt.split('.').length !== 3) throw refused(`${what} is not a signed JWT`)
  let alg: unknown
  let typ: unknown
  let kid: unknown
  let unverified: JWTPayload
  try {
    ({ alg, typ, kid } = decodeProtectedHeader(jwt))
    unverified = decodeJwt(jwt)
  } catch {
    throw refused(`${what} is not a signed JWT`)
  }
  if (typeof alg !== 'string' || alg === 'none' || alg.startsWith('HS')) throw refused(`${what} must be signed with an asymmetric algorithm`)
  const isIdJag = typeof typ === 'string' && typ.toLowerCase().replace(/^application\//, '') === idJagType
  if (profile === 'id-jag' && !isIdJag) throw refused(`${what} must have typ ${idJagType}`)
  // RFC 8725 §3.11: an ID-JAG is never accepted where another kind of JWT is expected.
  if (profile !== 'id-jag' && isIdJag) throw refused(`an ${idJagType} is only accepted by the jwt-bearer grant from its named client`)
  if (kid !== undefined && typeof kid !== 'string') throw refused(`${what} has a malformed kid`)
  if (typeof unverified.iss !== 'string' || unverified.iss === '') throw refused(`${what} has no iss`)
  const issuer = await ctx.trust.find(unverified.iss)
  if (issuer === undefined || !allowsProfile(issuer, profile)) throw refused(`the issuer of ${what} is not trusted for this grant`)
  if (!issuer.algorithms.includes(alg)) throw refused(`${what} alg is not accepted for this issuer`)
  let keys: JWK[]
  try {
    keys = await ctx.trust.keys(issuer, kid) as JWK[]
  } catch (error) {
    if (error instanceof StoreUnavailableError) throw error
    throw refused(`the keys of the issuer of ${what} could not be obtained`)
  }
  let payload: JWTPayload
  try {
    ({ payload } = await jwtVerify(jwt, createLocalJWKSet({ keys }), {
      algorithms: [...issuer.algorithms],
      issuer: issuer.issuer,
      audience: [...audiences],
      requiredClaims: profile === 'subject' ? ['exp', 'sub'] : ['exp', 'sub', 'jti', ...(profile === 'id-jag' ? ['iat'] : [])],
      clockTolerance: clockSkew,
      ...(profile === 'id-jag' ? { typ: idJagType } : {}),
    }))
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'invalid'
    throw refused(`${what} was refused (${code.replace(/^ERR_/, '').toLowerCase()})`)
  }
  if (typeof payload.sub !== 'string' || payload.sub === '' || payload.sub.length > 1024) throw refused(`${what} sub must be a non-empty string`)
  if (profile === 'subject') return { issuer, payload }
  const exp = payload.exp as number
  const now = nowSeconds()
  if (exp > now + issuer.maxAssertionLifetime + clockSkew) throw refused(`${what} exp is too far in the future`)
  if (payload.iat !== undefined && payload.iat > now + clockSkew) throw refused(`${what} iat is in the future`)
  if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) throw refused(`${what} jti must be a string`)
  if (!await consumeAssertionId(ctx, `assertion-grant:${profile}`, `${issuer.issuer}\n${payload.jti}`, exp)) {
    throw refused(`${what} was already used (jti replay)`)
  }
  return { issuer, payload }
}

function allowsProfile (issuer: KnownTrustedIssuer, profile: AssertionProfile): boolean {
  switch (profile) {
    case 'id-jag': return issuer.idJag
    case 'workload': return issuer.workloads.length > 0
    case 'subject': return issuer.subjectTokens
  }
}
