import type { FastifyRequest } from 'fastify'
import type { ClientRecord } from './store.js'

/**
 * Per client: PKCE on every authorization request (`required`, the default), or, for a
 * confidential OpenID Connect client that cannot send it, a `nonce` instead (`nonce-allowed`),
 * or, for a confidential client that sends neither (a legacy client, a certification run),
 * nothing (`optional`: weaker, see docs/certification.md). A code requested with a challenge
 * always needs its verifier. Public clients always need PKCE. Set by the host (a static client's `pkce`, or the `registration.validate` hook), never by
 * the client's own metadata.
 */
export type PkcePolicy = NonNullable<ClientRecord['pkce']>

/*
 * The metadata types are views of `ClientRecord` (contracts/store.ts), where each member is
 * declared and documented once: what registration validates is what the store keeps.
 */

/** The logout members of client metadata (RP-Initiated Logout 1.0 §3.1, Back-Channel Logout 1.0 §2.2). */
export type LogoutMetadata = Pick<ClientRecord, 'post_logout_redirect_uris' | 'backchannel_logout_uri' | 'backchannel_logout_session_required'>

/**
 * The client metadata of issue 18: keys for `private_key_jwt` and request objects (RFC 7591 §2,
 * OIDC Registration §2, RFC 9101 §10.5), DPoP (RFC 9449 §5.2) and PAR (RFC 9126 §6).
 */
export type KeyClientMetadata = Pick<ClientRecord,
  'jwks' | 'jwks_uri' | 'token_endpoint_auth_signing_alg' | 'dpop_bound_access_tokens' | 'require_pushed_authorization_requests' |
  'request_object_signing_alg' | 'require_signed_request_object'>

/**
 * Client metadata as registered (RFC 7591 §2, OpenID Connect Dynamic Client Registration §2): a
 * client record without what the provider adds to it (its id, the hashes of its secrets, when
 * it was issued).
 */
export type ClientMetadata = Omit<ClientRecord, 'client_id' | 'client_secret_hash' | 'previous_client_secret_hash' | 'previous_client_secret_expires_at' | 'registration_access_token_hash' | 'client_id_issued_at'>

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

/**
 * Which client_id URLs the host accepts at all (`clientIdMetadataDocuments.allow`), asked
 * before anything is fetched (the Client ID Metadata Document draft's security considerations
 * leave trust to the server: an allow-list of domains, a registry of approved clients). Return
 * false to refuse; the URL is the parsed client_id.
 */
export type ClientDocumentPolicy = (clientIdUrl: URL) => boolean | Promise<boolean>
