import type { ScopeDefinition, ScopeRegistry, ScopesOption, UserClaims } from '../contracts/claims.js'
import { BoundedCache } from './bounded-cache.js'

/** Which claims each standard scope releases (OpenID Connect Core §5.4). */
export const scopeClaims: Readonly<Record<string, readonly string[]>> = {
  profile: ['name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username',
    'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at'],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
}

/** The scopes supported when the `scopes` option is not given. */
export const defaultScopes: readonly string[] = ['openid', 'profile', 'email', 'address', 'phone', 'offline_access']

/**
 * Claims the provider itself sets in its tokens (RFC 7519 §4.1, RFC 9068 §2.2, OIDC Core §2,
 * RFC 7800 `cnf`). Neither the claims hook nor a user adapter can set or change them.
 */
export const registeredClaims: ReadonlySet<string> = new Set([
  'iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'scope', 'nonce', 'at_hash', 'c_hash',
  'auth_time', 'acr', 'amr', 'azp', 'cnf', 'sid', 'grant_id', 'family_id', 'userinfo_claims',
  // RFC 8693 §4.1, §4.4: set by token exchange only, never by a claims hook.
  'act', 'may_act',
])

/** The `ScopeRegistry` the provider builds from the `scopes` option (resolveScopes). */
export class ScopeTable implements ScopeRegistry {
  readonly names: string[]
  readonly #claims = new Map<string, readonly string[]>()
  readonly #descriptions = new Map<string, string>()

  constructor (definitions: ReadonlyArray<[string, ScopeDefinition]>) {
    this.names = definitions.map(([name]) => name)
    for (const [name, definition] of definitions) {
      this.#claims.set(name, definition.claims ?? scopeClaims[name] ?? [])
      if (definition.description !== undefined) this.#descriptions.set(name, definition.description)
    }
  }

  has (scope: string): boolean { return this.#claims.has(scope) }

  claimsOf (scope: string): readonly string[] { return this.#claims.get(scope) ?? [] }

  /** The host's own consent text for the scope, if it gave one. */
  description (scope: string): string | undefined { return this.#descriptions.get(scope) }

  /** Every claim the granted scopes release. */
  released (scopes: Iterable<string>): Set<string> {
    const claims = new Set<string>()
    for (const scope of scopes) for (const claim of this.claimsOf(scope)) claims.add(claim)
    return claims
  }

  #supported: string[] | undefined

  /** Discovery `claims_supported`: the registered claims plus what the scopes release (computed once). */
  supportedClaims (): string[] {
    if (this.#supported === undefined) {
      const claims = ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'at_hash', 'azp', 'acr', 'amr']
      for (const scope of this.names) claims.push(...this.claimsOf(scope))
      this.#supported = [...new Set(claims)]
    }
    return [...this.#supported]
  }
}

const scopeName = /^[\x21\x23-\x5B\x5D-\x7E]+$/
const claimName = /^[A-Za-z0-9_.:-]{1,100}$/

/** Checks and normalizes the `scopes` option; a message names what is wrong. */
export function resolveScopes (option: ScopesOption | undefined): ScopeRegistry {
  const definitions = new Map<string, ScopeDefinition>()
  if (option === undefined) {
    for (const name of defaultScopes) definitions.set(name, {})
  } else if (Array.isArray(option)) {
    for (const entry of option) {
      if (typeof entry === 'string') definitions.set(entry, {})
      else if (typeof entry === 'object' && entry !== null && typeof entry.name === 'string') definitions.set(entry.name, entry)
      else throw new TypeError('each entry must be a scope name or { name, claims?, description? }')
    }
  } else if (typeof option === 'object' && option !== null) {
    for (const name of defaultScopes) definitions.set(name, {})
    for (const [name, definition] of Object.entries(option)) {
      if (definition === false) definitions.delete(name)
      else if (definition === true) definitions.set(name, {})
      else if (typeof definition === 'object' && definition !== null) definitions.set(name, definition)
      else throw new TypeError(`"${name}" must be true, false or { claims?, description? }`)
    }
  } else {
    throw new TypeError('must be an array of scopes or an object of scope definitions')
  }
  for (const [name, definition] of definitions) {
    if (!scopeName.test(name)) throw new TypeError(`"${name}" is not a valid scope name (RFC 6749 §3.3)`)
    if (definition.claims !== undefined) {
      if (!Array.isArray(definition.claims) || !definition.claims.every((claim) => typeof claim === 'string' && claimName.test(claim))) {
        throw new TypeError(`"${name}".claims must be an array of claim names`)
      }
      const reserved = definition.claims.find((claim) => registeredClaims.has(claim))
      if (reserved !== undefined) throw new TypeError(`"${name}".claims cannot release the registered claim "${reserved}"`)
    }
    if (definition.description !== undefined && (typeof definition.description !== 'string' || definition.description.length > 200)) {
      throw new TypeError(`"${name}".description must be a string of at most 200 characters`)
    }
  }
  return new ScopeTable([...definitions])
}

/**
 * The claim names `scopes` (a scope string, RFC 6749 §3.3) release, plus `extra` (OIDC Core
 * §5.5), in `filterClaims`' order, without the registered ones (`sub` included): what an ID
 * token takes from the user's claims besides `sub`. Without `extra` (the usual token request),
 * computed once per registry and scope string instead of a set per token; the map is dropped
 * whole when it fills.
 */
export function releasedClaimNames (registry: ScopeRegistry, scopes: string, extra: readonly string[] = []): readonly string[] {
  if (extra.length > 0) return claimNamesOf(registry, scopes, extra)
  let byScope = releasedByRegistry.get(registry)
  if (byScope === undefined) {
    byScope = new BoundedCache(500, 512)
    releasedByRegistry.set(registry, byScope)
  }
  const cached = byScope.get(scopes)
  if (cached !== undefined) return cached
  const names = claimNamesOf(registry, scopes, extra)
  byScope.set(scopes, names)
  return names
}

const releasedByRegistry = new WeakMap<ScopeRegistry, BoundedCache<readonly string[]>>()

function claimNamesOf (registry: ScopeRegistry, scopes: string, extra: readonly string[]): readonly string[] {
  return Object.freeze(releasedNames(registry, new Set(scopes.split(' ').filter((value) => value !== '')), extra))
}

/** The claim names the scopes release plus `extra`, in the registry's order, registered ones left out. */
function releasedNames (registry: ScopeRegistry, scopes: ReadonlySet<string>, extra: Iterable<string>): string[] {
  const names = registry.released(scopes)
  for (const name of extra) names.add(name)
  return [...names].filter((name) => !registeredClaims.has(name))
}

/** The user's claims named `names` that have a value, added to `into`. */
export function pickClaims (claims: UserClaims, names: Iterable<string>, into: Record<string, unknown>): Record<string, unknown> {
  const values = claims as Record<string, unknown>
  for (const name of names) {
    const value = values[name]
    if (value !== undefined) into[name] = value
  }
  return into
}

/**
 * Keeps `sub` and only the claims the granted scopes release (plus `extra`, individual
 * claims asked for with OIDC Core §5.5), whatever the adapter returned.
 */
export function filterClaims (
  claims: UserClaims,
  scopes: ReadonlySet<string>,
  registry: ScopeRegistry = new ScopeTable([...scopes].map((scope) => [scope, {}])),
  extra: Iterable<string> = []
): Record<string, unknown> {
  return pickClaims(claims, releasedNames(registry, scopes, extra), { sub: claims.sub })
}
