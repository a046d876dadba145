/** RFC 9728 §3: the well-known suffix of protected resource metadata. */
export const wellKnownProtectedResource = '/.well-known/oauth-protected-resource'

/**
 * RFC 9728 §3.1: the metadata path for a resource identifier: the well-known segment between
 * the host and the resource's path (none for a bare origin, whose path is `/`).
 *
 * @example
 * metadataPath('https://api.example/')   // '/.well-known/oauth-protected-resource'
 * metadataPath('https://api.example/v1') // '/.well-known/oauth-protected-resource/v1'
 */
export function metadataPath (resource: string): string {
  const path = new URL(resource).pathname
  return path === '/' ? wellKnownProtectedResource : wellKnownProtectedResource + path
}

/** The metadata's absolute URL: what challenges send as `resource_metadata` (RFC 9728 §5.1). */
export function metadataUrl (resource: string): string {
  return new URL(resource).origin + metadataPath(resource)
}

/** RFC 9728 §2: the protected resource metadata document. */
export interface ProtectedResourceMetadata {
  resource: string
  authorization_servers: string[]
  scopes_supported?: string[]
  bearer_methods_supported: string[]
  resource_name?: string
  /** RFC 9728 §2: proof algorithms, published when DPoP is required. */
  dpop_signing_alg_values_supported?: string[]
  dpop_bound_access_tokens_required?: boolean
}

export function protectedResourceMetadata (input: { resource: string, issuer: string, scopes: readonly string[], name?: string, dpopRequiredAlgorithms?: readonly string[] }): ProtectedResourceMetadata {
  return {
    resource: input.resource,
    authorization_servers: [input.issuer],
    ...(input.scopes.length === 0 ? {} : { scopes_supported: [...input.scopes] }),
    // Only the Authorization header (RFC 6750 §2.1): tokens in URLs end up in logs.
    bearer_methods_supported: ['header'],
    ...(input.name === undefined ? {} : { resource_name: input.name }),
    ...(input.dpopRequiredAlgorithms === undefined
      ? {}
      : { dpop_signing_alg_values_supported: [...input.dpopRequiredAlgorithms], dpop_bound_access_tokens_required: true }),
  }
}
