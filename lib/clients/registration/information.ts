import type { ClientRecord, EpochSeconds } from '../../contracts/store.js'
import type { ProviderContext } from '../../contracts/context.js'
import type { ClientMetadata } from '../../contracts/clients.js'
import { keyMetadataOf, usesSecret } from '../key-metadata.js'

/** The client information response (RFC 7591 §3.2.1, extended by RFC 7592 §3). */
export interface ClientInformation extends Omit<ClientMetadata, 'first_party'> {
  client_id: string
  /** Only when a secret was just issued: the store keeps its hash, never the secret. */
  client_secret?: string
  client_id_issued_at: EpochSeconds
  /** RFC 7591 §3.2.1: required with a client secret; 0 = it does not expire. */
  client_secret_expires_at?: 0
  registration_access_token: string
  registration_client_uri: string
}

/** Secrets that exist in clear only for the length of one response. */
export interface IssuedCredentials {
  clientSecret?: string
  /** The registration access token: new on POST, the one presented on GET/PUT. */
  registrationAccessToken: string
}

/** RFC 7592 §1: the client configuration endpoint of one client. */
export function registrationClientUri (ctx: ProviderContext, clientId: string): string {
  return `${ctx.urls.register}/${encodeURIComponent(clientId)}`
}

/**
 * Builds the response from the stored record: the accepted metadata with its defaults, never
 * the stored hashes. RFC 7592 §3 requires `registration_access_token` in every response; as
 * only its hash is stored, read and update echo the token the client authenticated with.
 */
export function clientInformation (ctx: ProviderContext, client: ClientRecord, issued: IssuedCredentials): ClientInformation {
  const confidential = usesSecret(client.token_endpoint_auth_method)
  const info: ClientInformation = {
    client_id: client.client_id,
    ...(issued.clientSecret === undefined ? {} : { client_secret: issued.clientSecret }),
    client_id_issued_at: client.client_id_issued_at,
    ...(confidential ? { client_secret_expires_at: 0 as const } : {}),
    registration_access_token: issued.registrationAccessToken,
    registration_client_uri: registrationClientUri(ctx, client.client_id),
    redirect_uris: client.redirect_uris,
    token_endpoint_auth_method: client.token_endpoint_auth_method,
    grant_types: client.grant_types,
    response_types: client.response_types,
    scope: client.scope,
    application_type: client.application_type,
  }
  for (const member of ['client_name', 'client_uri', 'logo_uri', 'policy_uri', 'tos_uri', 'id_token_signed_response_alg'] as const) {
    const value = client[member]
    if (value !== undefined) info[member] = value
  }
  if (client.contacts !== undefined) info.contacts = client.contacts
  if (client.post_logout_redirect_uris !== undefined) info.post_logout_redirect_uris = client.post_logout_redirect_uris
  if (client.backchannel_logout_uri !== undefined) info.backchannel_logout_uri = client.backchannel_logout_uri
  if (client.backchannel_logout_session_required !== undefined) info.backchannel_logout_session_required = client.backchannel_logout_session_required
  Object.assign(info, keyMetadataOf(client))
  return info
}
