import type { FastifyRequest } from 'fastify'
import type { ClientMetadata } from '../clients/registration/metadata.js'

/**
 * Dynamic client registration policy (RFC 7591 §3). `{}` is open registration, as in the
 * example server; `initialAccessToken` requires `Authorization: Bearer <token>` on
 * `POST /register` (RFC 7591 §3, "initial access token").
 *
 * @example
 * registration: {
 *   initialAccessToken: process.env.REGISTRATION_TOKEN,
 *   async validate (metadata) {
 *     if (!metadata.client_name) throw new OAuthError('invalid_client_metadata', 'client_name is required')
 *     return metadata
 *   },
 * }
 */
export interface RegistrationPolicy {
  /** One or several accepted initial access tokens. Unset: open registration. */
  initialAccessToken?: string | string[]
  /**
   * Called with validated metadata before a client is created or updated; return the metadata
   * to store (possibly changed), or throw an `OAuthError` (e.g. `invalid_client_metadata`) to
   * refuse. The result is validated again, so a hook cannot store invalid metadata.
   * The hook alone may set `pkce: 'nonce-allowed'` (a confidential client that cannot send
   * PKCE relies on a nonce, RFC 9700 §2.1.1); the client's own request never can.
   */
  validate? (metadata: ClientMetadata, request: FastifyRequest): ClientMetadata | Promise<ClientMetadata>
}
