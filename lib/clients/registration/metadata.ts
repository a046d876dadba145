import { OAuthError } from '../../contracts/errors.js'
import { isLoopbackHostname } from '../../contracts/urls.js'
import { checkAlgorithmMembers, supportedAlgorithms, type SupportedAlgorithms } from '../../tokens/algorithms.js'
import { checkPkcePolicy } from '../../tokens/pkce.js'
import { deviceCodeGrantType, type ApplicationType, type GrantType, type TokenEndpointAuthMethod } from '../../contracts/store.js'
import type { ClientMetadata } from '../../contracts/clients.js'
import { tokenExchangeGrantType } from '../../contracts/trust.js'
import type { AuthorizationResponseType } from '../../contracts/options.js'
import { canonicalResponseType, grantTypesOf } from '../response-types.js'
import { validateLogoutMetadata } from '../logout-metadata.js'
import { validateKeyMetadata } from '../key-metadata.js'
import type { OutboundPolicy } from '../../http/outbound-policy.js'

export interface MetadataRules {
  supportedScopes: readonly string[]
  /** Only the host's static clients may skip consent. */
  allowFirstParty: boolean
  /**
   * What the provider can honour (`supportedAlgorithms(ctx.keys)`, as discovery publishes).
   * Default: an RS256 signing key only.
   */
  algorithms?: SupportedAlgorithms
  /**
   * Whether `pkce` is read (static clients, the registration hook's result). A client's own
   * registration request never sets it: there it is an unknown member, ignored (RFC 7591 §2).
   */
  allowPkcePolicy?: boolean
  /**
   * The outbound fetcher's policy (the `outbound` option): back-channel logout URIs are accepted
   * exactly when the fetcher will deliver to them. Default: https to public addresses only.
   */
  outbound?: OutboundPolicy
  /** The response types the host opted into (`responseTypes`). Default: `code` only. */
  responseTypes?: readonly AuthorizationResponseType[]
  /** The issuer: an http issuer (development) lets implicit web clients use http loopback redirect URIs. */
  issuer?: string
}

const defaultAlgorithms = supportedAlgorithms({ algorithms: () => ['RS256'] })

const grantTypes: readonly GrantType[] = [
  'authorization_code', 'refresh_token', 'client_credentials', 'implicit', deviceCodeGrantType,
  // Issue 28: RFC 8693 token exchange and RFC 7523 assertion grants (confidential clients only).
  'urn:ietf:params:oauth:grant-type:token-exchange', 'urn:ietf:params:oauth:grant-type:jwt-bearer',
]
/** Grants only a client that authenticates may use (RFC 6749 §4.4; draft-ietf-oauth-identity-assertion-authz-grant §8.1). */
const confidentialGrants: readonly string[] = ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange', 'urn:ietf:params:oauth:grant-type:jwt-bearer']
const authMethods: readonly TokenEndpointAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt']
const forbiddenSchemes = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:'])
const maxUriLength = 2000
const maxRedirectUris = 20

/**
 * Error descriptions go on the wire, where RFC 7591 §3.2.2 wants ASCII (and RFC 6749 §5.2 no
 * `"` or `\`): echoed input is quoted with single quotes, made printable ASCII and shortened.
 */
function show (value: string): string {
  const printable = value.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?')
  return `'${printable.length > 80 ? `${printable.slice(0, 80)}...` : printable}'`
}

const invalid = (description: string): OAuthError => new OAuthError('invalid_client_metadata', description)
const invalidRedirect = (description: string): OAuthError => new OAuthError('invalid_redirect_uri', description)

/**
 * Validates client metadata and fills in defaults (RFC 7591 §2). Unknown members are dropped,
 * not stored. Throws `invalid_redirect_uri` or `invalid_client_metadata` (RFC 7591 §3.2.2).
 *
 * Where `application_type` is absent it is `native` when a redirect URI uses a private-use
 * scheme (`com.example.app:/callback`, RFC 8252 §7.1), else `web`, so the seed's mobile-app
 * body registers as the native client it is.
 */
export function validateClientMetadata (input: unknown, rules: MetadataRules): ClientMetadata {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid('the request body must be a JSON object of client metadata')
  }
  const body = input as Record<string, unknown>

  const { grant_types, response_types } = checkGrantAndResponseTypes(body, rules.responseTypes ?? ['code'])
  const usesCode = grant_types.includes('authorization_code')
  const usesFrontChannel = usesCode || grant_types.includes('implicit')

  const token_endpoint_auth_method = (optionalString(body, 'token_endpoint_auth_method') ?? 'client_secret_basic') as TokenEndpointAuthMethod
  if (!authMethods.includes(token_endpoint_auth_method)) {
    throw invalid(`token_endpoint_auth_method: ${show(token_endpoint_auth_method)} is not supported`)
  }
  const confidentialOnly = grant_types.find((grant) => confidentialGrants.includes(grant))
  if (token_endpoint_auth_method === 'none' && confidentialOnly !== undefined) {
    throw invalid(`a public client (token_endpoint_auth_method 'none') cannot use ${confidentialOnly}`)
  }

  // A missing or mistyped redirect_uris is a metadata problem (invalid_client_metadata); a
  // present but unacceptable URI is invalid_redirect_uri (RFC 7591 §3.2.2).
  const redirect_uris = optionalStringArray(body, 'redirect_uris') ?? []
  if (usesFrontChannel && redirect_uris.length === 0) throw invalid('redirect_uris is required for the authorization_code and implicit grants')
  if (redirect_uris.length > maxRedirectUris) throw invalidRedirect(`at most ${maxRedirectUris} redirect_uris`)
  const parsed = redirect_uris.map(parseRedirectUri)

  const declaredType = optionalString(body, 'application_type')
  if (declaredType !== undefined && declaredType !== 'web' && declaredType !== 'native') {
    throw invalid("application_type must be 'web' or 'native'")
  }
  const application_type: ApplicationType = declaredType ??
    (parsed.some((uri) => isPrivateUseScheme(uri)) ? 'native' : 'web')
  for (const uri of parsed) checkRedirectUriForType(uri, application_type)
  // OIDC Registration §2: a web client of the implicit grant (an ID token in the front channel)
  // registers https redirect URIs only, never on localhost. An http issuer (development on one
  // machine) is let off.
  if (grant_types.includes('implicit') && application_type === 'web' && rules.issuer?.startsWith('http:') !== true) {
    for (const uri of parsed) {
      if (uri.protocol !== 'https:' || isLoopbackHostname(uri.hostname)) throw invalidRedirect(`redirect_uri ${show(uri.href)}: a web client of the implicit grant must use https and no localhost (OpenID Connect Registration section 2)`)
    }
  }

  // RFC 7591 §2: the server may narrow the requested scope; the response tells the client what
  // it got. Narrowing to nothing would register a client that can ask for nothing, so refuse.
  const requestedScope = optionalString(body, 'scope')
  const scope = requestedScope === undefined
    ? rules.supportedScopes.join(' ')
    : [...new Set(requestedScope.split(' ').filter((value) => rules.supportedScopes.includes(value)))].join(' ')
  if (requestedScope !== undefined && scope === '') throw invalid(`scope: none of the requested scopes is supported (supported: ${rules.supportedScopes.join(' ')})`)

  const metadata: ClientMetadata = { redirect_uris, token_endpoint_auth_method, grant_types: grant_types as GrantType[], response_types, scope, application_type }

  const client_name = optionalString(body, 'client_name')
  if (client_name !== undefined) {
    if (client_name.length > 200) throw invalid('client_name is longer than 200 characters')
    metadata.client_name = client_name
  }
  for (const member of ['client_uri', 'logo_uri', 'policy_uri', 'tos_uri'] as const) {
    const value = optionalString(body, member)
    if (value !== undefined) metadata[member] = webUri(member, value)
  }
  const contacts = optionalStringArray(body, 'contacts')
  if (contacts !== undefined) {
    if (contacts.length > 10 || contacts.some((contact) => contact.length > 320)) throw invalid('contacts: at most 10, each at most 320 characters')
    metadata.contacts = contacts
  }
  // RFC 7591 §2, OIDC Registration §2: algorithms the provider cannot honour are refused.
  Object.assign(metadata, checkAlgorithmMembers(body, rules.algorithms ?? defaultAlgorithms))
  if (body.first_party !== undefined) {
    if (!rules.allowFirstParty) throw invalid('first_party cannot be set through dynamic registration')
    if (typeof body.first_party !== 'boolean') throw invalid('first_party must be a boolean')
    metadata.first_party = body.first_party
  }
  if (rules.allowPkcePolicy === true) Object.assign(metadata, checkPkcePolicy(body.pkce, metadata))
  // RP-Initiated Logout 1.0 §3.1 and Back-Channel Logout 1.0 §2.2 members.
  Object.assign(metadata, validateLogoutMetadata(body, {
    applicationType: application_type,
    outbound: rules.outbound ?? { allowLoopback: false, allowHttpLoopback: false },
    checkRedirectUri: (uri, type) => { checkRedirectUriForType(parseRedirectUri(uri), type) },
  }))
  Object.assign(metadata, validateKeyMetadata(body, token_endpoint_auth_method))
  return metadata
}

/**
 * `grant_types` and `response_types` (RFC 7591 §2, OIDC Registration §2), with their defaults
 * (`authorization_code`; `code` when it is used), each response type one the host opted into,
 * spelled canonically, and the two lists consistent: `code` goes with `authorization_code`,
 * `id_token` with `implicit`, `code id_token` with both, and every grant a response type needs
 * is registered (RFC 7591 §2.1).
 */
function checkGrantAndResponseTypes (body: Record<string, unknown>, allowed: readonly AuthorizationResponseType[]): { grant_types: GrantType[], response_types: string[] } {
  const grant_types = optionalStringArray(body, 'grant_types') ?? ['authorization_code']
  if (grant_types.length === 0) throw invalid('grant_types must name at least one grant type')
  const frontChannel = allowed.some((type) => type !== 'code')
  for (const grant of grant_types) {
    if (!grantTypes.includes(grant as GrantType) || (grant === 'implicit' && !frontChannel)) throw invalid(`grant_types: ${show(grant)} is not supported`)
  }
  const usesCode = grant_types.includes('authorization_code')
  // A refresh token is issued at the end of a user's grant: the code flow, the device flow
  // (RFC 8628 §3.5), or a token exchange whose policy grants one (RFC 8693 §2.2.1).
  if (grant_types.includes('refresh_token') && !usesCode && !grant_types.includes(deviceCodeGrantType) && !grant_types.includes(tokenExchangeGrantType)) {
    throw invalid('grant_types: refresh_token requires authorization_code, the device_code grant or token exchange')
  }
  const requested = optionalStringArray(body, 'response_types') ?? (usesCode ? ['code'] : [])
  const response_types = [...new Set(requested.map((type) => {
    const canonical = canonicalResponseType(type)
    if (canonical === undefined || !allowed.includes(canonical)) {
      // RFC 9700 §2.1.2: no access token in the authorization response, so no `token` type at all.
      const why = /(^| )token( |$)/.test(type) ? 'response types with token are never supported (RFC 9700 section 2.1.2)' : `supported: ${allowed.join(', ')}`
      throw invalid(`response_types: ${show(type)} is not supported (${why})`)
    }
    return canonical
  }))]
  const needed = new Set(response_types.flatMap((type) => grantTypesOf(type as AuthorizationResponseType)))
  for (const grant of ['authorization_code', 'implicit'] as const) {
    if (needed.has(grant) !== grant_types.includes(grant)) {
      throw invalid(`grant_types and response_types are inconsistent: ${grant} goes with the response types ${grant === 'implicit' ? "'id_token' and 'code id_token'" : "'code' and 'code id_token'"} (RFC 7591 section 2.1, OpenID Connect Registration section 2)`)
    }
  }
  return { grant_types: grant_types as GrantType[], response_types }
}

function optionalString (body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw invalid(`${name} must be a string`)
  return value
}

function optionalStringArray (body: Record<string, unknown>, name: string): string[] | undefined {
  const value = body[name]
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw invalid(`${name} must be an array of strings`)
  return [...new Set(value as string[])]
}

function parseRedirectUri (uri: string): URL {
  if (uri.length > maxUriLength) throw invalidRedirect(`a redirect_uri is longer than ${maxUriLength} characters`)
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f]/.test(uri)) throw invalidRedirect('a redirect_uri contains whitespace or control characters')
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw invalidRedirect(`redirect_uri ${show(uri)} is not an absolute URI`)
  }
  if (uri.includes('#')) throw invalidRedirect('a redirect_uri must not contain a fragment (RFC 6749 section 3.1.2)')
  if (forbiddenSchemes.has(url.protocol)) throw invalidRedirect(`redirect_uri scheme ${show(url.protocol)} is not allowed`)
  if (url.username !== '' || url.password !== '') throw invalidRedirect('a redirect_uri must not contain credentials')
  return url
}

/** RFC 8252 §7.1: a private-use scheme, such as a reversed domain name (`com.example.app:`). */
function isPrivateUseScheme (url: URL): boolean {
  return url.protocol !== 'http:' && url.protocol !== 'https:'
}

function checkRedirectUriForType (url: URL, type: ApplicationType): void {
  if (url.protocol === 'https:') return
  if (url.protocol === 'http:') {
    if (isLoopbackHostname(url.hostname)) return
    throw invalidRedirect(`redirect_uri ${show(url.href)}: http is only allowed for loopback hosts (localhost, 127.0.0.1, [::1])`)
  }
  if (type === 'web') throw invalidRedirect(`redirect_uri ${show(url.href)}: web clients must use https (or http on loopback)`)
  if (!url.protocol.slice(0, -1).includes('.')) {
    throw invalidRedirect(`redirect_uri ${show(url.href)}: a private-use scheme must be a reversed domain name such as com.example.app (RFC 8252 section 7.1)`)
  }
}

/** URIs shown to users (consent page links) must be http(s): no `javascript:` links. */
function webUri (name: string, value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw invalid(`${name} must be an absolute URL`)
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || value.length > maxUriLength) {
    throw invalid(`${name} must be an http(s) URL`)
  }
  return value
}
