import type { ClientRecord } from './store.js'

/** A client found, or not: with `problem` when a client_id URL's metadata document was refused. */
export type ClientLookup = { client: ClientRecord, problem?: undefined } | { client: undefined, problem?: string }

/**
 * The one place clients are looked up (`ctx.clients`, built once by clients/lookup.ts): static
 * clients first (no store round trip); then, when Client ID Metadata Documents are on, a
 * client_id URL by its document (cached per instance, never stored); else the registered ones.
 *
 * @example
 * const client = await ctx.clients.find(clientId)
 * if (client === undefined) throw new OAuthError('invalid_client', 'unknown client')
 */
export interface ClientDirectory {
  lookup (clientId: string): Promise<ClientLookup>
  /** The client, or undefined when unknown (or its metadata document was refused). */
  find (clientId: string): Promise<ClientRecord | undefined>
  /**
   * Whether `clientId` is looked up in the store (neither a static client nor a client_id URL
   * resolved by its document): client authentication then reads it with its failure counters
   * in one store step where the store offers it (`getClientWithCounters`).
   */
  isStored (clientId: string): boolean
  /** True when client_id URLs are resolved by their metadata documents (discovery says so). */
  readonly resolvesMetadataDocuments: boolean
}
