import type { ProviderContext } from '../contracts/context.js'
import { assertionAlgorithms } from '../tokens/assertion-algorithms.js'
import { dpopAlgorithms } from '../tokens/dpop-proof.js'

/**
 * Discovery members for keys-based client authentication (RFC 8414 §2), DPoP (RFC 9449 §5.1)
 * and PAR (RFC 9126 §5), from the modules that implement them.
 */
export function keyMetadata (ctx: ProviderContext): Record<string, unknown> {
  return {
    pushed_authorization_request_endpoint: ctx.urls.par,
    require_pushed_authorization_requests: ctx.options.par.required,
    token_endpoint_auth_signing_alg_values_supported: assertionAlgorithms,
    introspection_endpoint_auth_signing_alg_values_supported: assertionAlgorithms,
    revocation_endpoint_auth_signing_alg_values_supported: assertionAlgorithms,
    dpop_signing_alg_values_supported: dpopAlgorithms,
  }
}
