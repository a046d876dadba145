import type { FastifyBaseLogger } from 'fastify'
import type { ClientRecord, Store } from './store.js'
import type { UserAdapter } from './users.js'
import type { ResolvedOptions } from './options.js'
import type { EndpointUrls } from './urls.js'
import type { KeyRing } from '../tokens/keyring.js'
import type { ResourceRegistry } from '../resources/registry.js'
import type { SecurityEventEmitter, SecurityEventName, SecurityEvents } from './events.js'
import type { OutboundFetcher } from '../http/fetch.js'

/**
 * Everything a route or grant needs, built once at registration. Passed explicitly (not read
 * from globals) so protocol modules are testable without HTTP.
 */
export interface ProviderContext {
  issuer: string
  urls: EndpointUrls
  /** The issuer's path as the browser sees it ('' at the root): cookie path and form actions. */
  basePath: string
  options: ResolvedOptions
  store: Store
  users: UserAdapter
  keys: KeyRing
  /** Static clients (hashed secrets), looked up before the store. */
  staticClients: ReadonlyMap<string, ClientRecord>
  events: SecurityEventEmitter
  /** Resource servers (RFC 8707 targets) the host declared. */
  resources: ResourceRegistry
  log: FastifyBaseLogger
  /** The one SSRF-safe way out to the network (metadata documents, jwks_uri, back-channel logout). */
  fetcher: OutboundFetcher
  /** Logs the event (info, or warn for attacks) and emits it to host listeners. */
  audit<Name extends SecurityEventName> (name: Name, event: SecurityEvents[Name]): void
}
