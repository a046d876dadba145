import type { FastifyRequest } from 'fastify'
import type { ProviderContext } from '../../contracts/context.js'
import type { ClientMetadata } from '../../contracts/clients.js'
import { validateClientMetadata } from './metadata.js'
import { supportedAlgorithms } from '../../tokens/algorithms.js'

/**
 * The metadata a registration (or an RFC 7592 update) ends up with: validated by the shared
 * rules, passed through the host's `registration.validate` hook, then validated again so a hook
 * cannot store what the rules refuse (first_party included). An `OAuthError` thrown by the hook
 * goes to the client as-is; anything else it throws is a host bug and answers 500.
 */
export async function acceptMetadata (ctx: ProviderContext, body: unknown, request: FastifyRequest): Promise<ClientMetadata> {
  const rules = { supportedScopes: ctx.options.scopes, allowFirstParty: false, algorithms: supportedAlgorithms(ctx.keys), issuer: ctx.issuer, responseTypes: ctx.options.responseTypes }
  const metadata = validateClientMetadata(body, rules)
  const policy = ctx.options.registration
  if (policy === false || policy.validate === undefined) return metadata
  const changed: unknown = await policy.validate(metadata, request)
  if (typeof changed !== 'object' || changed === null) {
    throw new TypeError('fastify-oidc-provider: registration.validate must return the client metadata (or throw an OAuthError)')
  }
  // The hook is the host's policy: it alone may set `pkce` (RFC 9700 §2.1.1 legacy clients).
  return validateClientMetadata(changed, { ...rules, allowPkcePolicy: true })
}
