import { OAuthError } from '../contracts/errors.js'
import type { ClientJwks } from '../contracts/store.js'
import type { KeyClientMetadata } from '../contracts/clients.js'

const invalid = (description: string): OAuthError => new OAuthError('invalid_client_metadata', description)

/** Members a public JWK never has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']
const maxKeys = 10

/**
 * Validates the key-related members of `body` for a client registering with
 * `token_endpoint_auth_method` `method`, and returns the accepted ones (unknown members are
 * dropped by the caller). The keys serve `private_key_jwt` and signed request objects (OIDC
 * Core §6.1, RFC 9101), so any client may register them; `private_key_jwt` needs them. Never
 * both `jwks` and `jwks_uri` (RFC 7591 §2: "MUST NOT both be present").
 *
 * @example
 * Object.assign(metadata, validateKeyMetadata(body, metadata.token_endpoint_auth_method))
 */
export function validateKeyMetadata (body: Record<string, unknown>, method: string): KeyClientMetadata {
  const accepted: KeyClientMetadata = {}
  const { jwks, jwks_uri: jwksUri } = body
  if (jwks !== undefined && jwks !== null && jwksUri !== undefined && jwksUri !== null) {
    throw invalid('jwks and jwks_uri must not both be present (RFC 7591 section 2)')
  }
  if (jwks !== undefined && jwks !== null) accepted.jwks = publicJwks(jwks)
  if (jwksUri !== undefined && jwksUri !== null) {
    if (typeof jwksUri !== 'string') throw invalid('jwks_uri must be a string')
    let url: URL
    try {
      url = new URL(jwksUri)
    } catch {
      throw invalid('jwks_uri must be an absolute URL')
    }
    // Fetched by the provider: https only, no credentials, no fragment (the fetcher refuses
    // private addresses on top of this).
    if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || url.hash !== '' || jwksUri.length > 2000) {
      throw invalid('jwks_uri must be an https URL without credentials or fragment')
    }
    accepted.jwks_uri = jwksUri
  }
  if (method === 'private_key_jwt' && accepted.jwks === undefined && accepted.jwks_uri === undefined) {
    throw invalid('private_key_jwt needs the client\'s public keys: jwks or jwks_uri')
  }

  // The algorithm members (token_endpoint_auth_signing_alg, id_token_signed_response_alg) were
  // checked by lib/tokens/algorithms.ts, the one list discovery publishes; here they are only kept.
  if (typeof body.token_endpoint_auth_signing_alg === 'string') accepted.token_endpoint_auth_signing_alg = body.token_endpoint_auth_signing_alg
  if (typeof body.request_object_signing_alg === 'string') accepted.request_object_signing_alg = body.request_object_signing_alg

  for (const member of ['dpop_bound_access_tokens', 'require_pushed_authorization_requests', 'require_signed_request_object'] as const) {
    const value = body[member]
    if (value === undefined || value === null) continue
    if (typeof value !== 'boolean') throw invalid(`${member} must be a boolean`)
    accepted[member] = value
  }
  return accepted
}

/** A JWK Set of public signing keys: RSA, EC or OKP, no private or symmetric members. */
function publicJwks (value: unknown): ClientJwks {
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { keys?: unknown }).keys)) {
    throw invalid('jwks must be a JWK Set: an object with a keys array')
  }
  const keys = (value as { keys: unknown[] }).keys
  if (keys.length === 0 || keys.length > maxKeys) throw invalid(`jwks must hold 1 to ${maxKeys} keys`)
  const accepted: Array<Record<string, unknown>> = []
  for (const key of keys) {
    if (typeof key !== 'object' || key === null || Array.isArray(key)) throw invalid('every key in jwks must be a JWK object')
    const jwk = key as Record<string, unknown>
    if (!['RSA', 'EC', 'OKP'].includes(jwk.kty as string)) throw invalid('jwks keys must be RSA, EC or OKP public keys')
    if (privateMembers.some((member) => member in jwk)) throw invalid('jwks must hold public keys only (a private member was sent)')
    if (jwk.use !== undefined && jwk.use !== 'sig') throw invalid('jwks keys must be signing keys (use sig)')
    if (JSON.stringify(jwk).length > 8192) throw invalid('a jwks key is too large')
    accepted.push(jwk)
  }
  return { keys: accepted }
}

/** Whether clients of this method hold a client secret (private_key_jwt and none do not). */
export function usesSecret (method: string): boolean {
  return method === 'client_secret_basic' || method === 'client_secret_post'
}

/** The accepted key metadata of a stored client, for the client information response. */
export function keyMetadataOf (client: KeyClientMetadata): KeyClientMetadata {
  const out: KeyClientMetadata = {}
  if (client.jwks !== undefined) out.jwks = client.jwks
  if (client.jwks_uri !== undefined) out.jwks_uri = client.jwks_uri
  if (client.token_endpoint_auth_signing_alg !== undefined) out.token_endpoint_auth_signing_alg = client.token_endpoint_auth_signing_alg
  if (client.dpop_bound_access_tokens !== undefined) out.dpop_bound_access_tokens = client.dpop_bound_access_tokens
  if (client.require_pushed_authorization_requests !== undefined) out.require_pushed_authorization_requests = client.require_pushed_authorization_requests
  if (client.request_object_signing_alg !== undefined) out.request_object_signing_alg = client.request_object_signing_alg
  if (client.require_signed_request_object !== undefined) out.require_signed_request_object = client.require_signed_request_object
  return out
}
