import type { ClientRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import type { StaticClient } from '../contracts/options.js'
import { invalidOption, OAuthError } from '../contracts/errors.js'
import { validateClientMetadata } from './registration/metadata.js'
import type { SupportedAlgorithms } from '../tokens/algorithms.js'
import { nowSeconds, sha256 } from '../tokens/crypto.js'
import { clientDocumentsOf, isClientIdUrl } from './metadata-document.js'

/**
 * Turns the host's static clients into client records, with the same metadata rules as dynamic
 * registration. The plain secret is hashed here and not kept.
 */
export function loadStaticClients (
  clients: StaticClient[],
  supportedScopes: readonly string[],
  algorithms?: SupportedAlgorithms,
  issuer?: string
): Map<string, ClientRecord> {
  const records = new Map<string, ClientRecord>()
  clients.forEach((client, index) => {
    const name = `clients[${index}]`
    if (records.has(client.client_id)) throw invalidOption(`${name}.client_id`, `duplicates "${client.client_id}"`)
    let metadata
    try {
      metadata = validateClientMetadata(client, { supportedScopes, allowFirstParty: true, allowPkcePolicy: true, ...(algorithms === undefined ? {} : { algorithms }), ...(issuer === undefined ? {} : { issuer }) })
    } catch (error) {
      if (error instanceof OAuthError) throw invalidOption(name, `is invalid: ${error.error_description}`)
      throw error
    }
    // Public clients and private_key_jwt clients (they prove a key) have no secret.
    const isPublic = metadata.token_endpoint_auth_method === 'none' || metadata.token_endpoint_auth_method === 'private_key_jwt'
    if (isPublic && client.client_secret !== undefined) {
      throw invalidOption(`${name}.client_secret`, `must not be set for token_endpoint_auth_method "${metadata.token_endpoint_auth_method}"`)
    }
    if (!isPublic && client.client_secret === undefined) {
      throw invalidOption(`${name}.client_secret`, `is required for token_endpoint_auth_method "${metadata.token_endpoint_auth_method}"`)
    }
    records.set(client.client_id, {
      ...metadata,
      client_id: client.client_id,
      ...(client.client_secret === undefined ? {} : { client_secret_hash: sha256(client.client_secret) }),
      client_id_issued_at: nowSeconds(),
    })
  })
  return records
}

/** A client found, or not: with `problem` when a client_id URL's metadata document was refused. */
export type ClientLookup = { client: ClientRecord, problem?: undefined } | { client: undefined, problem?: string }

/**
 * The one place clients are looked up: static clients first (no store round trip); then, when
 * Client ID Metadata Documents are on, a client_id URL is resolved by its document (cached per
 * instance, never stored: lib/clients/metadata-document.ts); else the registered ones.
 */
export async function lookupClient (ctx: ProviderContext, clientId: string): Promise<ClientLookup> {
  const known = ctx.staticClients.get(clientId)
  if (known !== undefined) return { client: known }
  const documents = isClientIdUrl(clientId) ? clientDocumentsOf(ctx) : undefined
  if (documents !== undefined) {
    const resolved = await documents.resolve(clientId)
    return resolved.ok ? { client: resolved.client } : { client: undefined, problem: resolved.description }
  }
  return { client: await ctx.store.getClient(clientId) }
}

/** The client, or undefined when unknown (or its metadata document was refused). */
export async function findClient (ctx: ProviderContext, clientId: string): Promise<ClientRecord | undefined> {
  return (await lookupClient(ctx, clientId)).client
}
