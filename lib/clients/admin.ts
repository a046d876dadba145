import type { ProviderContext } from '../contracts/context.js'
import type { ClientMetadata } from '../contracts/clients.js'
import type { ClientRecord, EpochSeconds } from '../contracts/store.js'
import type { SecurityEvents } from '../contracts/events.js'
import { OAuthError } from '../contracts/errors.js'
import { nowSeconds } from '../tokens/crypto.js'
import { supportedAlgorithms } from '../tokens/algorithms.js'
import { usesSecret } from './key-metadata.js'
import { validateClientMetadata } from './registration/metadata.js'
import { newClientId, newClientSecret } from './registration/credentials.js'

/** A client as administration shows it: its metadata, never a stored hash. */
export type AdminClient = Omit<ClientMetadata, never> & {
  client_id: string
  client_id_issued_at: EpochSeconds
  /** Configured by the host in `clients`: read-only here. */
  static: boolean
  /** Whether it authenticates with a client secret. */
  has_secret: boolean
  /** While a rotated-out secret is still accepted: until when (epoch seconds). */
  previous_secret_expires_at?: EpochSeconds
}

/** A secret exists in clear only in the one answer that issues it. */
export interface IssuedClient {
  client: AdminClient
  /** Shown once: the store keeps its SHA-256 only. */
  client_secret?: string
}

export interface ClientListQuery {
  /** The previous page's `next`. */
  after?: string
  /** 1 to 100, default 50. */
  limit?: number
  /** Keeps clients whose id or name contains it (case-insensitive). */
  search?: string
}

export interface ClientList {
  clients: AdminClient[]
  next?: string
}

/** Thrown for a static client's change, or a client that does not exist. */
const readOnly = (): OAuthError => new OAuthError('invalid_request', 'static clients are configured by the host and are read-only', { statusCode: 409 })
const notFound = (): OAuthError => new OAuthError('invalid_request', 'no such client', { statusCode: 404 })

/**
 * Client administration (`app.oidc.clients`, the `oidcAdmin` plugin): create, read, update
 * (RFC 7592 §2.2 rules), delete, rotate a secret with an optional overlap, list. Metadata goes
 * through the same validation as registration; an administrator may also set `first_party` and
 * `pkce`. Static clients are listed and read, never changed.
 */
export function createClientAdmin (ctx: ProviderContext) {
  const rules = { supportedScopes: ctx.options.scopes, allowFirstParty: true, allowPkcePolicy: true, algorithms: supportedAlgorithms(ctx.keys), issuer: ctx.issuer }
  const storedClient = async (clientId: string): Promise<ClientRecord> => {
    if (ctx.staticClients.has(clientId)) throw readOnly()
    const client = await ctx.store.getClient(clientId)
    if (client === undefined) throw notFound()
    return client
  }

  return {
    /** Records a call to an admin API (`admin.call`): the `oidcAdmin` plugin's, or the host's own. */
    auditCall (event: SecurityEvents['admin.call']): void {
      ctx.audit('admin.call', event)
    },

    async create (body: unknown): Promise<IssuedClient> {
      const metadata = validateClientMetadata(body, rules)
      const secret = usesSecret(metadata.token_endpoint_auth_method) ? newClientSecret() : undefined
      const client: ClientRecord = {
        ...metadata,
        client_id: newClientId(ctx),
        ...(secret === undefined ? {} : { client_secret_hash: secret.hash }),
        client_id_issued_at: nowSeconds(),
      }
      await ctx.store.saveClient(client)
      ctx.audit('client.created', { clientId: client.client_id })
      return { client: adminView(client, false), ...(secret === undefined ? {} : { client_secret: secret.secret }) }
    },

    async get (clientId: string): Promise<AdminClient | undefined> {
      const known = ctx.staticClients.get(clientId)
      if (known !== undefined) return adminView(known, true)
      const client = await ctx.store.getClient(clientId)
      return client === undefined ? undefined : adminView(client, false)
    },

    /**
     * RFC 7592 §2.2: the metadata is replaced as a whole (omitted members fall back to their
     * defaults); `client_id`, when sent, must be this client's. Becoming public drops the secret;
     * becoming confidential issues one, shown once. One atomic store step against a racing delete.
     */
    async update (clientId: string, body: unknown): Promise<IssuedClient> {
      const client = await storedClient(clientId)
      const sentId = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).client_id : undefined
      if (sentId !== undefined && sentId !== clientId) {
        throw new OAuthError('invalid_client_metadata', 'client_id must be this client\'s identifier (RFC 7592 section 2.2)')
      }
      const metadata = validateClientMetadata(body, rules)
      const confidential = usesSecret(metadata.token_endpoint_auth_method)
      const secret = confidential && client.client_secret_hash === undefined ? newClientSecret() : undefined
      const updated: ClientRecord = {
        ...metadata,
        client_id: clientId,
        client_id_issued_at: client.client_id_issued_at,
        ...(client.registration_access_token_hash === undefined ? {} : { registration_access_token_hash: client.registration_access_token_hash }),
        ...(confidential ? keptSecret(client, secret?.hash) : {}),
      }
      if (!await ctx.store.updateClientIfExists(updated)) throw notFound()
      ctx.audit('client.updated', { clientId })
      return { client: adminView(updated, false), ...(secret === undefined ? {} : { client_secret: secret.secret }) }
    },

    /** Deletes the client, then every grant it holds (its codes and tokens end with them). */
    async delete (clientId: string): Promise<void> {
      await storedClient(clientId)
      if (!await ctx.store.deleteClient(clientId)) throw notFound()
      await ctx.store.revokeClientGrants(clientId)
      ctx.audit('client.deleted', { clientId })
      ctx.audit('grant.revoked', { clientId, reason: 'client_deleted' })
    },

    /**
     * Issues a new secret (shown once, stored hashed). With `overlapSeconds` > 0 the old one
     * keeps working until then, so deployed instances of the client can switch without downtime;
     * with 0 it stops at once. A rotation during an overlap ends the earlier overlap.
     */
    async rotateSecret (clientId: string, overlapSeconds = 0): Promise<IssuedClient & { client_secret: string }> {
      const client = await storedClient(clientId)
      if (client.client_secret_hash === undefined || !usesSecret(client.token_endpoint_auth_method)) {
        throw new OAuthError('invalid_request', 'this client does not authenticate with a client secret')
      }
      const overlap = Math.max(0, Math.floor(overlapSeconds))
      const secret = newClientSecret()
      const { previous_client_secret_hash: _hash, previous_client_secret_expires_at: _end, ...rest } = client
      const rotated: ClientRecord = {
        ...rest,
        client_secret_hash: secret.hash,
        ...(overlap === 0 ? {} : { previous_client_secret_hash: client.client_secret_hash, previous_client_secret_expires_at: nowSeconds() + overlap }),
      }
      if (!await ctx.store.updateClientIfExists(rotated)) throw notFound()
      ctx.audit('client.secret_rotated', { clientId, overlapSeconds: overlap })
      return { client: adminView(rotated, false), client_secret: secret.secret }
    },

    /**
     * A page of clients ordered by id: the static ones and the stored ones merged. With
     * `search`, pages are filtered as they are read (at most 10 store pages per call; follow
     * `next` for more).
     */
    async list (query: ClientListQuery = {}): Promise<ClientList> {
      const limit = Math.min(Math.max(Math.floor(query.limit ?? 50), 1), 100)
      const needle = query.search?.toLowerCase()
      const matches = (client: ClientRecord): boolean => needle === undefined ||
        client.client_id.toLowerCase().includes(needle) || (client.client_name?.toLowerCase().includes(needle) ?? false)
      const found: AdminClient[] = []
      let after = query.after
      for (let round = 0; round < 10; round++) {
        const page = await ctx.store.listClients({ limit, ...(after === undefined ? {} : { after }) })
        const storeEnd = page.next
        const statics = [...ctx.staticClients.values()]
          .filter((client) => (after === undefined || client.client_id > after) && (storeEnd === undefined || client.client_id <= storeEnd))
        const merged = [...statics.map((client) => ({ client, isStatic: true })), ...page.clients.filter((client) => !ctx.staticClients.has(client.client_id)).map((client) => ({ client, isStatic: false }))]
          .sort((a, b) => a.client.client_id < b.client.client_id ? -1 : 1)
        for (const { client, isStatic } of merged) {
          after = client.client_id
          if (!matches(client)) continue
          found.push(adminView(client, isStatic))
          if (found.length === limit) {
            const more = page.next !== undefined || merged.at(-1)?.client.client_id !== client.client_id
            return more ? { clients: found, next: client.client_id } : { clients: found }
          }
        }
        if (page.next === undefined) return { clients: found }
      }
      return after === undefined ? { clients: found } : { clients: found, next: after }
    },
  }
}

export type ClientAdmin = ReturnType<typeof createClientAdmin>

/** The secret as it stays through an update: current, and a running overlap, or a new one. */
function keptSecret (client: ClientRecord, issuedHash: string | undefined): Partial<ClientRecord> {
  if (issuedHash !== undefined) return { client_secret_hash: issuedHash }
  return {
    ...(client.client_secret_hash === undefined ? {} : { client_secret_hash: client.client_secret_hash }),
    ...(client.previous_client_secret_hash === undefined ? {} : { previous_client_secret_hash: client.previous_client_secret_hash }),
    ...(client.previous_client_secret_expires_at === undefined ? {} : { previous_client_secret_expires_at: client.previous_client_secret_expires_at }),
  }
}

/** The record without its hashes. */
function adminView (client: ClientRecord, isStatic: boolean): AdminClient {
  const {
    client_secret_hash: secretHash,
    previous_client_secret_hash: previousHash,
    previous_client_secret_expires_at: previousEnd,
    registration_access_token_hash: _registration,
    ...metadata
  } = client
  const overlapping = previousHash !== undefined && previousEnd !== undefined && previousEnd > nowSeconds()
  return {
    ...structuredClone(metadata),
    static: isStatic,
    has_secret: secretHash !== undefined,
    ...(overlapping ? { previous_secret_expires_at: previousEnd } : {}),
  }
}
