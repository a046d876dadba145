import { invalidOption, StoreUnavailableError } from '../contracts/errors.js'
import { sha256 } from '../tokens/crypto.js'
import { normalizeResource } from '../contracts/resource-uri.js'
import type { FindResourceServer, KnownResource, ResourceCatalog, ResourceServer, ResourceServerQuery } from '../contracts/resources.js'

/**
 * The resource servers the host declared: a static list (checked and hashed at startup) and an
 * optional lookup function, asked when the list does not know an identifier.
 */
export class ResourceRegistry implements ResourceCatalog {
  readonly #byResource = new Map<string, KnownResource>()
  readonly #byClientId = new Map<string, KnownResource>()
  readonly #find: FindResourceServer | undefined
  readonly #self: KnownResource

  constructor (list: readonly ResourceServer[], find: FindResourceServer | undefined, self: { issuer: string, scopes: readonly string[] }) {
    this.#find = find
    this.#self = {
      resource: normalizeResource(self.issuer) ?? self.issuer,
      // The provider's own scopes are described by the page catalogs (lib/http/pages), not here.
      scopes: new Map(self.scopes.map((scope) => [scope, scope])),
      self: true,
    }
    list.forEach((server, index) => {
      const name = `resourceServers[${index}]`
      const known = toKnownResource(server, (member, message) => { throw invalidOption(`${name}${member}`, message) })
      if (known.resource === this.#self.resource) throw invalidOption(`${name}.resource`, 'is the issuer itself, which is always a resource of its own')
      if (this.#byResource.has(known.resource)) throw invalidOption(`${name}.resource`, `duplicates "${known.resource}"`)
      this.#byResource.set(known.resource, known)
      if (known.introspection !== undefined) {
        if (this.#byClientId.has(known.introspection.clientId)) throw invalidOption(`${name}.introspection.clientId`, `duplicates "${known.introspection.clientId}"`)
        this.#byClientId.set(known.introspection.clientId, known)
      }
    })
  }

  /** Every scope the static list accepts (they are supported scopes of the provider). */
  get staticScopes (): string[] {
    return [...new Set([...this.#byResource.values()].flatMap((server) => [...server.scopes.keys()]))]
  }

  /** The consent description of a scope some static resource server accepts. */
  describeScope (scope: string): string | undefined {
    for (const server of this.#byResource.values()) {
      const description = server.scopes.get(scope)
      if (description !== undefined) return description
    }
    return undefined
  }

  /** Whether a scope is one of the provider's own (the `scopes` option), not only an API's. */
  isProviderScope (scope: string): boolean {
    return this.#self.scopes.has(scope)
  }

  /** The introspection client_ids of the static list (they must not collide with clients). */
  get staticIntrospectionClientIds (): string[] {
    return [...this.#byClientId.keys()]
  }

  /** A resource by its normalised identifier; undefined when nobody declared it. */
  async find (resource: string): Promise<KnownResource | undefined> {
    if (resource === this.#self.resource) return this.#self
    const known = this.#byResource.get(resource)
    if (known !== undefined) return known
    const found = await this.#lookup({ resource })
    return found?.resource === resource ? found : undefined
  }

  /**
   * False when no resource server can introspect with credentials of its own (none declared with
   * `introspection`, no lookup function): introspection then skips straight to client
   * authentication instead of parsing the credentials twice on every call.
   */
  get hasIntrospectionClients (): boolean {
    return this.#byClientId.size > 0 || this.#find !== undefined
  }

  /** The resource server that introspects with this client_id, if any. */
  async findByIntrospectionClient (clientId: string): Promise<KnownResource | undefined> {
    const known = this.#byClientId.get(clientId)
    if (known !== undefined) return known
    const found = await this.#lookup({ introspectionClientId: clientId })
    return found?.introspection?.clientId === clientId ? found : undefined
  }

  async #lookup (query: ResourceServerQuery): Promise<KnownResource | undefined> {
    if (this.#find === undefined) return undefined
    let server: ResourceServer | undefined | null
    try {
      server = await this.#find(query)
    } catch (error) {
      // The host's database is down: the same answer as our own store's outage.
      throw new StoreUnavailableError('the resource server lookup failed', { cause: error })
    }
    if (server === undefined || server === null) return undefined
    return toKnownResource(server, (member, message) => {
      throw new StoreUnavailableError(`findResourceServer returned an invalid resource server: ${member.replace(/^\./, '')} ${message}`)
    })
  }
}

function toKnownResource (server: ResourceServer, fail: (member: string, message: string) => never): KnownResource {
  if (typeof server !== 'object' || server === null) return fail('', 'must be an object')
  const resource = typeof server.resource === 'string' ? normalizeResource(server.resource) : undefined
  if (resource === undefined) return fail('.resource', 'must be an absolute URI without a fragment (RFC 8707 §2)')
  if (typeof server.scopes !== 'object' || server.scopes === null) return fail('.scopes', 'must map each scope to its description')
  const scopes = new Map<string, string>()
  for (const [scope, description] of Object.entries(server.scopes)) {
    // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(scope)) fail('.scopes', `has an invalid scope name "${scope}"`)
    if (typeof description !== 'string') fail(`.scopes.${scope}`, 'must be a description string')
    scopes.set(scope, description)
  }
  const ttl = server.accessTokenTtl
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1 || ttl > 10 * 365 * 86400)) fail('.accessTokenTtl', 'must be a positive integer (seconds)')
  const known: KnownResource = { resource, scopes, self: false }
  if (typeof server.name === 'string') known.name = server.name
  if (ttl !== undefined) known.accessTokenTtl = ttl
  const credentials = server.introspection
  if (credentials !== undefined) {
    if (typeof credentials.clientId !== 'string' || credentials.clientId === '') fail('.introspection.clientId', 'must be a non-empty string')
    if (typeof credentials.clientSecret === 'string') {
      if (credentials.clientSecret.length < 16) fail('.introspection.clientSecret', 'must be at least 16 characters')
      known.introspection = { clientId: credentials.clientId, clientSecretHash: sha256(credentials.clientSecret) }
    } else if (typeof credentials.clientSecretHash === 'string' && credentials.clientSecretHash !== '') {
      known.introspection = { clientId: credentials.clientId, clientSecretHash: credentials.clientSecretHash }
    } else {
      fail('.introspection', 'needs clientSecret (or clientSecretHash)')
    }
  }
  return known
}
