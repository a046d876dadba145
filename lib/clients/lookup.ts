import type { ClientRecord } from '../contracts/store.js'
import type { ProviderCore } from '../contracts/context.js'
import type { ClientDirectory, ClientLookup } from '../contracts/client-directory.js'
import type { AuthorizationResponseType, StaticClient } from '../contracts/options.js'
import { invalidOption, OAuthError } from '../contracts/errors.js'
import { validateClientMetadata } from './registration/metadata.js'
import type { SupportedAlgorithms } from '../tokens/algorithms.js'
import { nowSeconds, sha256 } from '../tokens/crypto.js'
import { ClientMetadataDocuments, clientDocumentSettings } from './metadata-document.js'
import { isClientIdUrl } from '../contracts/urls.js'
import type { OutboundPolicy } from '../http/outbound-policy.js'

/**
 * Turns the host's static clients into client records, with the same metadata rules as dynamic
 * registration. The plain secret is hashed here and not kept.
 */
export function loadStaticClients (
  clients: StaticClient[],
  supportedScopes: readonly string[],
  algorithms?: SupportedAlgorithms,
  outbound?: OutboundPolicy,
  responseTypes?: readonly AuthorizationResponseType[],
  issuer?: string
): Map<string, ClientRecord> {
  const records = new Map<string, ClientRecord>()
  clients.forEach((client, index) => {
    const name = `clients[${index}]`
    if (records.has(client.client_id)) throw invalidOption(`${name}.client_id`, `duplicates "${client.client_id}"`)
    let metadata
    try {
      metadata = validateClientMetadata(client, { supportedScopes, allowFirstParty: true, allowPkcePolicy: true, ...(algorithms === undefined ? {} : { algorithms }), ...(outbound === undefined ? {} : { outbound }), ...(issuer === undefined ? {} : { issuer }), ...(responseTypes === undefined ? {} : { responseTypes }) })
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

/**
 * The provider's client directory (`ctx.clients`), made once at register: static clients first
 * (no store round trip); then, when Client ID Metadata Documents are on, a client_id URL is
 * resolved by its document (cached per instance, never stored: clients/metadata-document.ts);
 * else the registered ones. Bad `clientIdMetadataDocuments` bounds fail register here.
 */
export function createClientDirectory (core: ProviderCore): ClientDirectory {
  const settings = clientDocumentSettings(core.options)
  const documents = settings === undefined ? undefined : new ClientMetadataDocuments(core, settings)
  const lookup = async (clientId: string): Promise<ClientLookup> => {
    const known = core.staticClients.get(clientId)
    if (known !== undefined) return { client: known }
    if (documents !== undefined && isClientIdUrl(clientId)) {
      const resolved = await documents.resolve(clientId)
      return resolved.ok ? { client: resolved.client } : { client: undefined, problem: resolved.description }
    }
    return { client: await core.store.getClient(clientId) }
  }
  return {
    lookup,
    find: async (clientId) => (await lookup(clientId)).client,
    isStored: (clientId) => !core.staticClients.has(clientId) && !(documents !== undefined && isClientIdUrl(clientId)),
    resolvesMetadataDocuments: documents !== undefined,
  }
}
