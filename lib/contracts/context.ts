import type { FastifyBaseLogger } from 'fastify'
import type { ClientRecord, Store } from './store.js'
import type { UserAdapter } from './users.js'
import type { ResolvedOptions } from './options.js'
import type { EndpointUrls } from './urls.js'
import type { ProviderKeys } from './keys.js'
import type { ResourceCatalog } from './resources.js'
import type { SecurityEventEmitter, SecurityEventName, SecurityEvents } from './events.js'
import type { OutboundFetcher } from './outbound.js'
import type { ClientDirectory } from './client-directory.js'
import type { ProviderPages } from './pages.js'
import type { TrustRegistry } from './trust.js'

/** RFC 9449 §8: server-provided DPoP nonces, good on every instance (tokens/dpop-nonce.ts). */
export interface DpopNonceSource {
  current (): string
  isValid (nonce: string | undefined): boolean
}

/** The public keys behind clients' `jwks_uri` (RFC 7591 §2), fetched and cached (clients/jwks-uri.ts). */
export interface ClientKeySets {
  /** The key set at `url`; fetched again (within limits) when it lacks `kid`. */
  keys (url: string, kid?: string): Promise<Array<Record<string, unknown>>>
}

/** Work started after a response (back-channel logouts) that `app.close()` waits for. */
export interface BackgroundWork {
  track (work: Promise<void>): void
  /** Resolves once everything tracked so far, and anything tracked meanwhile, has settled. */
  settle (): Promise<void>
}

/**
 * The provider's settings and adapters, and the services the other services are built from
 * (keys, resources, fetcher, events): what exists before the per-provider caches do.
 */
export interface ProviderCore {
  issuer: string
  urls: EndpointUrls
  /** The issuer's path as the browser sees it ('' at the root): cookie path and form actions. */
  basePath: string
  options: ResolvedOptions
  store: Store
  users: UserAdapter
  keys: ProviderKeys
  /** Static clients (hashed secrets), looked up before the store. */
  staticClients: ReadonlyMap<string, ClientRecord>
  events: SecurityEventEmitter
  /** Resource servers (RFC 8707 targets) the host declared. */
  resources: ResourceCatalog
  log: FastifyBaseLogger
  /** The one SSRF-safe way out to the network (metadata documents, jwks_uri, back-channel logout). */
  fetcher: OutboundFetcher
  /** Logs the event (info, or warn for attacks) and emits it to host listeners. */
  audit<Name extends SecurityEventName> (name: Name, event: SecurityEvents[Name]): void
  /** Logs a warning once per provider for each `key` (a host mistake repeated on every token). */
  warnOnce (key: string, fields: object, message: string): void
}

/**
 * Everything a route or grant needs, built once at registration by the plugin
 * (provider/context.ts): settings, adapters and every per-provider service. Passed explicitly
 * (not read from globals or module-level caches) so protocol modules are testable without HTTP.
 */
export interface ProviderContext extends ProviderCore {
  /** Every client lookup goes through here. */
  clients: ClientDirectory
  dpopNonces: DpopNonceSource
  /** Client key sets behind `jwks_uri` (private_key_jwt). */
  clientKeySets: ClientKeySets
  /** Back-channel logout deliveries in flight. */
  deliveries: BackgroundWork
  /** The login, consent, logout and error pages, with their catalogs. */
  pages: ProviderPages
  /** Issuers whose JWTs are accepted (ID-JAGs, workload JWTs, token-exchange subject tokens). */
  trust: TrustRegistry
}
