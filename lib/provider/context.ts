import type { FastifyBaseLogger } from 'fastify'
import type { ProviderContext, ProviderCore } from '../contracts/context.js'
import type { ResolvedOptions } from '../contracts/options.js'
import type { ClientRecord, Store } from '../contracts/store.js'
import type { ProviderKeys } from '../contracts/keys.js'
import type { ResourceCatalog } from '../contracts/resources.js'
import { SecurityEventEmitter } from '../contracts/events.js'
import { endpointUrls, externalBasePath } from '../contracts/urls.js'
import { createFetcher } from '../http/fetch.js'
import { DpopNonces } from '../tokens/dpop-nonce.js'
import { createClientDirectory } from '../clients/lookup.js'
import { createClientKeySets } from '../clients/jwks-uri.js'
import { createDeliveries } from '../sessions/backchannel.js'
import { createPages } from '../http/pages/install.js'
import { createTrustRegistry } from '../trust/registry.js'

/** Events that are attacks (or their symptoms): logged at warn, the others at info. */
const attackEvents = new Set(['code.replayed', 'refresh_token.reused', 'login.locked', 'form.cross_site'])

export interface ContextParts {
  issuer: string
  options: ResolvedOptions
  store: Store
  keys: ProviderKeys
  staticClients: ReadonlyMap<string, ClientRecord>
  resources: ResourceCatalog
  log: FastifyBaseLogger
}

/**
 * Builds the provider's context: every per-provider service made here, once, at register, so no
 * module keeps a cache keyed by the context. The services that need others (the client
 * directory needs the fetcher and the audit) are made from the core, which exists first.
 */
export function buildContext (parts: ContextParts): ProviderContext {
  const { issuer, options, log } = parts
  const events = new SecurityEventEmitter()
  const warned = new Set<string>()
  const core: ProviderCore = {
    ...parts,
    urls: endpointUrls(issuer),
    basePath: externalBasePath(issuer),
    users: options.users,
    events,
    fetcher: createFetcher({
      allowLoopback: options.outbound.allowLoopback,
      allowHttpLoopback: options.outbound.allowHttpLoopback,
      ...(options.outbound.ca === undefined ? {} : { ca: options.outbound.ca }),
      log,
    }),
    audit (name, event) {
      const fields: object = { event: name, ...event }
      log[attackEvents.has(name) ? 'warn' : 'info'](fields, `oidc ${String(name)}`)
      events.emit(name, event, log)
    },
    warnOnce (key, fields, message) {
      if (warned.has(key)) return
      warned.add(key)
      log.warn(fields, message)
    },
  }
  // The cookie secret is shared by every instance, so a DPoP nonce from one is good on all.
  const nonceSecret = [options.cookieSecret ?? ''].flat()[0] ?? ''
  return {
    ...core,
    clients: createClientDirectory(core),
    dpopNonces: new DpopNonces(`${nonceSecret}:dpop`),
    clientKeySets: createClientKeySets(core),
    deliveries: createDeliveries(),
    // A bad `pages` option (brand, template file, catalog) fails register here.
    pages: createPages(options.pages ?? {}),
    trust: createTrustRegistry(core),
  }
}
