import type { ProviderContext } from '../contracts/context.js'
import { defaultPasskeyAcr } from '../contracts/passkeys.js'
import type { Authentication, AuthorizationRequest } from './types.js'

/** The authentication context classes an authorization request asks for. */
export interface AcrRequest {
  /** The values, in the client's order of preference. */
  values: string[]
  /** OIDC Core §5.5.1.1: an essential `acr` claim; else voluntary (`acr_values`, §3.1.2.1). */
  essential: boolean
}

/**
 * The acr classes this provider can satisfy, strongest first: with the `passkeys` option, a
 * passkey sign-in's (`passkeys.acr`: device-bound `phrh`, then synced `phr` by default). This is
 * discovery's `acr_values_supported` (OIDC Discovery §3) and the order step-up compares by.
 */
export function supportedAcrValues (ctx: ProviderContext): string[] {
  const passkeys = ctx.options.passkeys
  if (passkeys === undefined) return []
  const acr = { ...defaultPasskeyAcr, ...passkeys.acr }
  return acr.deviceBound === acr.synced ? [acr.deviceBound] : [acr.deviceBound, acr.synced]
}

/**
 * What the request asks for: an essential `acr` claim of the ID token with `value` or `values`
 * (OIDC Core §5.5.1.1; the `claims` parameter, a request object's too), else `acr_values`
 * (§3.1.2.1) and a voluntary `acr` claim's values, both voluntary. Undefined when it asks for none.
 */
export function requestedAcr (authorization: AuthorizationRequest): AcrRequest | undefined {
  const claim = authorization.claims?.id_token?.acr
  const claimed = claim === undefined || claim === null
    ? []
    : [...(Array.isArray(claim.values) ? claim.values : []), ...(claim.value === undefined ? [] : [claim.value])]
        .filter((value): value is string => typeof value === 'string')
  if (claimed.length > 0 && claim?.essential === true) return { values: claimed, essential: true }
  const values = [...(authorization.acrValues ?? []), ...claimed]
  return values.length === 0 ? undefined : { values, essential: false }
}

/**
 * The `acr` the ID tokens of this authorization state, whichever way they leave (the code's,
 * the front channel's, the device grant's): the login's class; else, when the request asked
 * for one (`acr_values`, or an `acr` claim of the ID token, even a voluntary `null` one), the
 * host's `defaultAcr` ("0" unless set: no ISO/IEC 29115 level claimed); else none, as OIDC Core
 * §2 leaves `acr` optional (§3.1.2.1 `acr_values`, §5.5.1.1 the `acr` claim).
 *
 * @example
 * const acr = issuedAcr(ctx, authorization, authentication)
 */
export function issuedAcr (ctx: ProviderContext, request: AuthorizationRequest, authentication: Authentication): string | undefined {
  if (authentication.acr !== undefined) return authentication.acr
  return request.acrValues !== undefined || request.claims?.id_token?.acr !== undefined ? ctx.options.defaultAcr : undefined
}

/**
 * Whether an authentication of class `acr` satisfies one of `wanted`: the same class, or a
 * stronger one this provider knows (a device-bound passkey satisfies a request for a synced one).
 */
export function acrSatisfies (supported: readonly string[], acr: string | undefined, wanted: readonly string[]): boolean {
  if (acr === undefined) return false
  if (wanted.includes(acr)) return true
  const rank = supported.indexOf(acr)
  return rank >= 0 && wanted.some((value) => supported.indexOf(value) >= rank)
}

/**
 * Step-up (OIDC Core §3.1.2.1 `acr_values`, §5.5.1.1 the `acr` claim): a login session whose
 * class does not satisfy the request is not reused silently; the user signs in again (with a
 * passkey, which does). A voluntary request steps up only to a class this provider can satisfy
 * (an unknown `acr_values` member is no reason to ask again: the ID token's `acr` says what was
 * done); an essential one always asks.
 */
export function stepUpNeeded (ctx: ProviderContext, authorization: AuthorizationRequest, sessionAcr: string | undefined): boolean {
  const request = requestedAcr(authorization)
  if (request === undefined) return false
  const supported = supportedAcrValues(ctx)
  // A login that stated no class reports `defaultAcr` ("0") when asked: that is what it satisfies.
  if (acrSatisfies(supported, sessionAcr ?? ctx.options.defaultAcr, request.values)) return false
  return request.essential || request.values.some((value) => supported.includes(value))
}

/**
 * OIDC Core §5.5.1.1: after a login, an essential `acr` the login did not reach "MUST" be
 * treated as a failed authentication attempt (no code, no token).
 */
export function essentialAcrUnmet (ctx: ProviderContext, authorization: AuthorizationRequest, acr: string | undefined): boolean {
  const request = requestedAcr(authorization)
  return request !== undefined && request.essential && !acrSatisfies(supportedAcrValues(ctx), acr ?? ctx.options.defaultAcr, request.values)
}
