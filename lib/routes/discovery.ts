import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import { routes } from '../contracts/urls.js'
import { grantHandlers } from '../grants/index.js'
import { idJagGrantProfile, tokenTypes } from '../contracts/trust.js'
import { algorithmMetadata, supportedAlgorithms } from '../tokens/algorithms.js'
import { keyMetadata } from '../clients/discovery.js'
import { supportedAcrValues } from '../interactions/acr.js'
import { corsAllowedHeaders, corsMaxAge, publicCorsHeaders } from '../http/cors.js'

/**
 * The provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2): every value describes
 * exactly what is implemented, and every URL derives from the configured issuer.
 */
export function providerMetadata (ctx: ProviderContext): Record<string, unknown> {
  const { urls, options } = ctx
  // From the grant registry: adding a grant module advertises it; `implicit` (OIDC Discovery §3)
  // when a response type issues an ID token at the authorization endpoint.
  const grantTypes: string[] = grantHandlers.map((handler) => handler.grantType)
  if (options.responseTypes.some((type) => type !== 'code')) grantTypes.push('implicit')
  const acrValues = supportedAcrValues(ctx)
  return {
    issuer: ctx.issuer,
    authorization_endpoint: urls.authorize,
    token_endpoint: urls.token,
    userinfo_endpoint: urls.userinfo,
    jwks_uri: urls.jwks,
    ...(options.registration === false ? {} : { registration_endpoint: urls.register }),
    introspection_endpoint: urls.introspect,
    revocation_endpoint: urls.revoke,
    // RFC 8628 §4.
    device_authorization_endpoint: urls.deviceAuthorization,
    scopes_supported: options.scopes,
    // OIDC Discovery §3: the response types the host opted into (never one with `token`),
    // and every response mode the authorization endpoint answers in.
    response_types_supported: options.responseTypes,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    grant_types_supported: grantTypes,
    subject_types_supported: ['public'],
    // One list with registration's rules (lib/tokens/algorithms.ts): what our keys can sign.
    ...algorithmMetadata(supportedAlgorithms(ctx.keys, options.requestObjects)),
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt'],
    // Issue 18: private_key_jwt, DPoP, PAR.
    ...keyMetadata(ctx),
    code_challenge_methods_supported: ['S256'],
    claims_supported: options.scopeRegistry.supportedClaims(),
    claims_parameter_supported: true,
    // OIDC Discovery §3: the classes a sign-in here can reach (a passkey's; docs/passkeys.md).
    ...(acrValues.length === 0 ? {} : { acr_values_supported: acrValues }),
    // OIDC Core §6, RFC 9101: `request` by value when on; `request_uri` only as a pushed
    // request's (RFC 9126), never fetched, so request_uri_parameter_supported stays false.
    request_parameter_supported: options.requestObjects.enabled,
    request_uri_parameter_supported: false,
    // RFC 9101 §10.5.
    require_signed_request_object: options.requestObjects.requireSigned,
    require_request_uri_registration: false,
    authorization_response_iss_parameter_supported: true,
    prompt_values_supported: ['none', 'login', 'consent'],
    display_values_supported: ['page'],
    // RP-Initiated Logout 1.0 §2.1, Back-Channel Logout 1.0 §2.1.
    end_session_endpoint: urls.logout,
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    // OIDC Discovery §3: the languages the pages have a catalog for (ui_locales picks one).
    ui_locales_supported: ctx.pages.catalogs.locales,
    // draft-ietf-oauth-client-id-metadata-document, "Authorization Server Metadata": URL client_ids are resolved.
    ...(ctx.clients.resolvesMetadataDocuments ? { client_id_metadata_document_supported: true } : {}),
    // Issue 28: the ID-JAG profile of the jwt-bearer grant is redeemed when an issuer is trusted
    // (MCP Enterprise-Managed Authorization); ID-JAGs are issued when a policy can allow them
    // (draft-ietf-oauth-identity-assertion-authz-grant §5, draft-ietf-oauth-identity-chaining).
    ...(ctx.trust.configured ? { authorization_grant_profiles_supported: [idJagGrantProfile] } : {}),
    ...(options.tokenExchange.policy === undefined ? {} : { identity_chaining_requested_token_types_supported: [tokenTypes.idJag] }),
  }
}

/** Response headers of the public documents (discovery, JWKS), built once, CORS included. */
export function documentHeaders (contentType: string): Record<string, string> {
  // Short cache: after a key rotation, relying parties see the new keys within minutes.
  return { 'cache-control': 'public, max-age=300', 'content-type': contentType, ...publicCorsHeaders }
}

/**
 * The serialized metadata, made once per registration (the issuer-relative routes and the root
 * path-inserted ones each hold one, built from the same context, so they send the same bytes).
 * Serialized once, as bytes; again only when the keys (and so the algorithms) change.
 */
function metadataDocument (ctx: ProviderContext): () => Buffer {
  let body = Buffer.from(JSON.stringify(providerMetadata(ctx)))
  const algorithmsNow = (): string => supportedAlgorithms(ctx.keys).idTokenSigning.join()
  let algorithms = algorithmsNow()
  const send = (): Buffer => {
    const current = algorithmsNow()
    if (current !== algorithms) {
      algorithms = current
      body = Buffer.from(JSON.stringify(providerMetadata(ctx)))
    }
    return body
  }
  return send
}

/** Every metadata route, issuer-relative or path-inserted, is a public document (lib/http/cors.ts). */
function serveMetadata (app: FastifyInstance, path: string, send: () => Buffer): void {
  const headers = documentHeaders('application/json; charset=utf-8')
  // Synchronous, headers built once (CORS included): no promise and no hook per request for a
  // constant answer.
  app.get(path, (_request, reply) => { reply.headers(headers).send(send()) })
}

export async function discoveryRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  const send = metadataDocument(ctx)
  for (const path of [routes.discovery, routes.oauthMetadata]) serveMetadata(app, path, send)
}

/**
 * The root locations of the metadata of an issuer with a path (`https://host/oidc`):
 * RFC 8414 §3.1 inserts the well-known segment between the host and the issuer's path
 * (`/.well-known/oauth-authorization-server/oidc`), and clients that apply the same rule to
 * OpenID Connect Discovery (RFC 8414 §5; the MCP authorization spec's discovery order, the MCP
 * SDK's `buildDiscoveryUrls`) ask `/.well-known/openid-configuration/oidc`. OIDC Discovery §4's
 * own location (`/oidc/.well-known/openid-configuration`) is `discoveryRoutes`'. Same document,
 * so the `issuer` is byte for byte the one the client inserted (RFC 8414 §3.3).
 *
 * Registered in an unprefixed context of the host (`app` must be at the root), with the
 * public-document CORS of the issuer-relative ones (any origin may read them, no credentials).
 */
export async function pathInsertedDiscoveryRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  const send = metadataDocument(ctx)
  for (const wellKnown of [routes.oauthMetadata, routes.discovery]) {
    const path = wellKnown + ctx.basePath
    serveMetadata(app, path, send)
    app.options(path, async (_request, reply) => {
      reply.headers({
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'GET',
        'access-control-allow-headers': corsAllowedHeaders,
        'access-control-max-age': String(corsMaxAge),
      })
      return await reply.code(204).send()
    })
  }
}
