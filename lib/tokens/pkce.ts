import { digest, safeEqualDigests } from './crypto.js'
import { OAuthError } from '../contracts/errors.js'
import type { PkcePolicy } from '../contracts/clients.js'

/** RFC 7636 §4.1: 43–128 characters of the unreserved set. */
const verifierPattern = /^[A-Za-z0-9\-._~]{43,128}$/
/** RFC 7636 §4.2: an S256 challenge is BASE64URL(SHA256(verifier)): exactly 43 characters, no padding. */
const s256ChallengePattern = /^[A-Za-z0-9\-_]{43}$/

export function isWellFormedChallenge (challenge: string): boolean {
  return s256ChallengePattern.test(challenge)
}

export function isWellFormedVerifier (verifier: string): boolean {
  return verifierPattern.test(verifier)
}

/** RFC 7636 §4.2: code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier))). */
export function s256Challenge (verifier: string): string {
  // 'ascii' as createHash's update(…, 'ascii') read it: one byte per character.
  return digest('sha256', Buffer.from(verifier, 'ascii'), 'base64url')
}

/** RFC 7636 §4.6: the verifier must hash to the stored challenge (constant-time comparison). */
export function verifyPkce (verifier: string, challenge: string, method: 'S256'): boolean {
  if (method !== 'S256' || !isWellFormedVerifier(verifier)) return false
  return safeEqualDigests(s256Challenge(verifier), challenge)
}

export const pkcePolicies: readonly PkcePolicy[] = ['required', 'nonce-allowed', 'optional']

/**
 * RFC 9700 §2.1.1: "Public clients MUST use PKCE [...] With additional precautions [...],
 * confidential OpenID Connect clients MAY use the nonce parameter and the respective Claim in
 * the ID Token instead." So a request may go without `code_challenge` only when the client is
 * confidential and its policy says so: `nonce-allowed` when the request asks for `openid` with
 * a `nonce` (the ID token then carries the nonce the client checks, OIDC Core §3.1.3.7);
 * `optional` always (a legacy or certification client the host accepts without either: its
 * codes are then protected only by the client secret and the exact redirect_uri, RFC 9700
 * §4.5 injection is not prevented).
 */
export function mayOmitCodeChallenge (
  client: { pkce?: PkcePolicy, token_endpoint_auth_method: string },
  request: { nonce?: string | undefined, scopes: readonly string[] }
): boolean {
  if (client.token_endpoint_auth_method === 'none') return false
  if (client.pkce === 'optional') return true
  return client.pkce === 'nonce-allowed' && request.nonce !== undefined && request.nonce !== '' && request.scopes.includes('openid')
}

/** Whether the token endpoint may see a code without a verifier for this client (its policy lets it skip PKCE). */
export function mayRedeemWithoutVerifier (client: { pkce?: PkcePolicy }): boolean {
  return client.pkce === 'nonce-allowed' || client.pkce === 'optional'
}

/**
 * Checks a host-chosen policy against the client it is for: only confidential clients that may
 * ask for `openid` can rely on a nonce. Throws `invalid_client_metadata`; returns what to store.
 */
export function checkPkcePolicy (
  policy: unknown,
  client: { token_endpoint_auth_method: string, scope: string }
): { pkce?: PkcePolicy } {
  if (policy === undefined || policy === null) return {}
  if (typeof policy !== 'string' || !(pkcePolicies as readonly string[]).includes(policy)) {
    throw new OAuthError('invalid_client_metadata', `pkce must be one of ${pkcePolicies.join(', ')}`)
  }
  if (policy !== 'required' && client.token_endpoint_auth_method === 'none') {
    throw new OAuthError('invalid_client_metadata', `pkce: '${policy}' is only for confidential clients; a public client always needs PKCE (RFC 9700 section 2.1.1)`)
  }
  if (policy === 'nonce-allowed') {
    if (!client.scope.split(' ').includes('openid')) {
      throw new OAuthError('invalid_client_metadata', "pkce: 'nonce-allowed' needs the openid scope (the nonce comes back in the ID token)")
    }
  }
  return { pkce: policy as PkcePolicy }
}
