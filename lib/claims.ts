import type { UserClaims } from './adapters/users/types.js'

/** Which claims each standard scope releases (OpenID Connect Core §5.4). */
export const scopeClaims: Readonly<Record<string, readonly string[]>> = {
  profile: ['name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username',
    'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at'],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
}

/** Claims the provider can return with the given scopes (discovery `claims_supported`). */
export function supportedClaims (scopes: readonly string[]): string[] {
  const claims = ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'at_hash', 'azp']
  for (const scope of scopes) claims.push(...(scopeClaims[scope] ?? []))
  return [...new Set(claims)]
}

/** Keeps `sub` and only the claims the granted scopes release, whatever the adapter returned. */
export function filterClaims (claims: UserClaims, scopes: ReadonlySet<string>): Record<string, unknown> {
  const released: Record<string, unknown> = { sub: claims.sub }
  for (const scope of scopes) {
    for (const name of scopeClaims[scope] ?? []) {
      const value = (claims as unknown as Record<string, unknown>)[name]
      if (value !== undefined) released[name] = value
    }
  }
  return released
}
