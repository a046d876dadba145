import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../context.js'
import { routes } from '../urls.js'
import { pagesOf } from '../pages/install.js'
import { grantHandlers } from '../grants/index.js'
import { algorithmMetadata, supportedAlgorithms } from '../algorithms.js'
import { keyMetadata } from '../clients/discovery.js'
import { clientDocumentsOf } from '../clients/metadata-document.js'

/**
 * The provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2): every value describes
 * exactly what is implemented, and every URL derives from the configured issuer.
 */
export function providerMetadata (ctx: ProviderContext): Record<string, unknown> {
  const { urls, options } = ctx
  // From the grant registry: adding a grant module advertises it.
  const grantTypes = grantHandlers.map((handler) => handler.grantType)
  return {
    issuer: ctx.issuer,
    authorization_endpoint: urls.authorize,
    token_endpoint: urls.token,
    userinfo_endpoint: urls.userinfo,
    jwks_uri: urls.jwks,
    ...(options.registration === false ? {} : { registration_endpoint: urls.register }),
    introspection_endpoint: urls.introspect,
    revocation_endpoint: urls.revoke,
    scopes_supported: options.scopes,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: grantTypes,
    subject_types_supported: ['public'],
    // One list with registration's rules (lib/algorithms.ts): what our keys can sign.
    ...algorithmMetadata(supportedAlgorithms(ctx.keys)),
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt'],
    // Issue 18: private_key_jwt, DPoP, PAR.
    ...keyMetadata(ctx),
    code_challenge_methods_supported: ['S256'],
    claims_supported: options.scopeRegistry.supportedClaims(),
    claims_parameter_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    require_request_uri_registration: false,
    authorization_response_iss_parameter_supported: true,
    prompt_values_supported: ['none', 'login', 'consent'],
    display_values_supported: ['page'],
    // RP-Initiated Logout 1.0 §2.1, Back-Channel Logout 1.0 §2.1.
    end_session_endpoint: urls.logout,
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    // OIDC Discovery §3: the languages the pages have a catalog for (ui_locales picks one).
    ui_locales_supported: pagesOf(ctx).catalogs.locales,
    // draft-ietf-oauth-client-id-metadata-document, "Authorization Server Metadata": URL client_ids are resolved.
    ...(clientDocumentsOf(ctx) === undefined ? {} : { client_id_metadata_document_supported: true }),
  }
}

/** Response headers of the public documents (discovery, JWKS), built once. */
export function documentHeaders (contentType: string): Record<string, string> {
  // Short cache: after a key rotation, relying parties see the new keys within minutes.
  return { 'cache-control': 'public, max-age=300', 'content-type': contentType }
}

export async function discoveryRoutes (app: FastifyInstance, ctx: ProviderContext): Promise<void> {
  // Serialized once, as bytes: the document only changes when the keys' algorithms change.
  const headers = documentHeaders('application/json; charset=utf-8')
  let body = Buffer.from(JSON.stringify(providerMetadata(ctx)))
  const algorithmsNow = (): string => supportedAlgorithms(ctx.keys).idTokenSigning.join()
  let algorithms = algorithmsNow()
  const current = (): Buffer => {
    const now = algorithmsNow()
    if (now !== algorithms) {
      algorithms = now
      body = Buffer.from(JSON.stringify(providerMetadata(ctx)))
    }
    return body
  }
  for (const path of [routes.discovery, routes.oauthMetadata]) {
    // Synchronous: no promise per request for a constant answer.
    app.get(path, (_request, reply) => { reply.headers(headers).send(current()) })
  }
}
