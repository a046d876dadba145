import type { OidcProviderOptions } from '../contracts/options.js'
import { InvalidOptionError } from '../contracts/errors.js'
import { resolveScopes } from '../tokens/scopes.js'
import type { ClaimsHooks, ScopeRegistry } from '../contracts/claims.js'
import type { InteractionOptions } from '../contracts/interactions.js'
import type { PagesOptions } from '../contracts/pages.js'

const interactionPages = {
  url: 'a function (interaction) => the URL of your login/consent page',
  logoutUrl: 'a function (interaction) => the URL of your logout confirmation page',
  signedOutUrl: 'a function (view) => the URL of your signed-out page',
} as const

/** `interactions`: each page optional, at least one given, each a function. */
function checkInteractionOptions (interactions: InteractionOptions): void {
  if (typeof interactions !== 'object' || interactions === null) throw new InvalidOptionError('interactions.url', `must be ${interactionPages.url}`)
  for (const [name, description] of Object.entries(interactionPages)) {
    const value = (interactions as unknown as Record<string, unknown>)[name]
    if (value !== undefined && typeof value !== 'function') throw new InvalidOptionError(`interactions.${name}`, `must be ${description}`)
  }
  if (interactions.url === undefined && interactions.logoutUrl === undefined && interactions.signedOutUrl === undefined) {
    throw new InvalidOptionError('interactions.url', `must be ${interactionPages.url} (or give logoutUrl / signedOutUrl)`)
  }
}

/** The options of issue 14 (scopes, interactions, claims hooks, pages), checked in code. */
export function resolveExperienceOptions (options: OidcProviderOptions): {
  scopes: string[]
  scopeRegistry: ScopeRegistry
  tokenClaims: ClaimsHooks
  interactions?: InteractionOptions
  pages?: PagesOptions
} {
  let scopeRegistry: ScopeRegistry
  try {
    scopeRegistry = resolveScopes(options.scopes)
  } catch (error) {
    throw new InvalidOptionError('scopes', (error as Error).message)
  }
  const interactions = options.interactions
  if (interactions !== undefined) checkInteractionOptions(interactions)
  const tokenClaims = options.tokenClaims ?? {}
  if (typeof tokenClaims !== 'object' || tokenClaims === null) throw new InvalidOptionError('tokenClaims', 'must be { accessToken?, idToken? }')
  for (const [kind, hook] of Object.entries(tokenClaims)) {
    if (kind !== 'accessToken' && kind !== 'idToken') throw new InvalidOptionError(`tokenClaims.${kind}`, 'is not a token kind (accessToken, idToken)')
    if (hook !== undefined && typeof hook !== 'function') throw new InvalidOptionError(`tokenClaims.${kind}`, 'must be a function')
  }
  if (options.pages !== undefined && (typeof options.pages !== 'object' || options.pages === null)) {
    throw new InvalidOptionError('pages', 'must be an object ({ brand, templates, messages })')
  }
  return {
    scopes: scopeRegistry.names,
    scopeRegistry,
    tokenClaims,
    ...(interactions === undefined ? {} : { interactions }),
    ...(options.pages === undefined ? {} : { pages: options.pages }),
  }
}
