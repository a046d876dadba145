import type { ClientRecord } from './adapters/store/types.js'
import type { ProviderContext } from './context.js'
import type { StaticClient } from './options.js'
import { InvalidOptionError, OAuthError } from './errors.js'
import { validateClientMetadata } from './registration/metadata.js'
import type { SupportedAlgorithms } from './algorithms.js'
import { nowSeconds, sha256 } from './crypto.js'

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
    if (records.has(client.client_id)) throw new InvalidOptionError(`${name}.client_id`, `duplicates "${client.client_id}"`)
    let metadata
    try {
      metadata = validateClientMetadata(client, { supportedScopes, allowFirstParty: true, allowPkcePolicy: true, ...(algorithms === undefined ? {} : { algorithms }), ...(issuer === undefined ? {} : { issuer }) })
    } catch (error) {
      if (error instanceof OAuthError) throw new InvalidOptionError(name, `is invalid: ${error.error_description}`)
      throw error
    }
    // Public clients and private_key_jwt clients (they prove a key) have no secret.
    const isPublic = metadata.token_endpoint_auth_method === 'none' || metadata.token_endpoint_auth_method === 'private_key_jwt'
    if (isPublic && client.client_secret !== undefined) {
      throw new InvalidOptionError(`${name}.client_secret`, `must not be set for token_endpoint_auth_method "${metadata.token_endpoint_auth_method}"`)
    }
    if (!isPublic && client.client_secret === undefined) {
      throw new InvalidOptionError(`${name}.client_secret`, `is required for token_endpoint_auth_method "${metadata.token_endpoint_auth_method}"`)
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

/** Static clients first (no store round trip), then registered ones. */
export async function findClient (ctx: ProviderContext, clientId: string): Promise<ClientRecord | undefined> {
  return ctx.staticClients.get(clientId) ?? await ctx.store.getClient(clientId)
}
