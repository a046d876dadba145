import type { ClientRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError, type OAuthErrorCode } from '../contracts/errors.js'
import type { ClaimRequest, ClaimsRequest } from '../contracts/interactions.js'
import { isWellFormedChallenge, mayOmitCodeChallenge } from '../tokens/pkce.js'
import { clientScopes } from '../tokens/issue.js'
import { resolveAuthorizationResources } from '../resources/resolve.js'

/** A validated authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1). */
export interface AuthorizationRequest {
  client: ClientRecord
  redirectUri: string
  /** Requested scopes that are supported and allowed for the client, in request order. */
  scopes: string[]
  state?: string
  nonce?: string
  /** Absent only when the client may rely on a nonce instead (`mayOmitCodeChallenge`). */
  codeChallenge?: string
  codeChallengeMethod?: 'S256'
  /** RFC 9449 §10: the DPoP key thumbprint the code is to be bound to. */
  dpopJkt?: string
  /** RFC 8707: the normalised resources requested (set by `resolveAuthorizationResources`). */
  resources?: string[]
  prompt: ReadonlySet<string>
  maxAge?: number
  loginHint?: string
  idTokenHint?: string
  /** OIDC Core §3.1.2.1: the user's preferred languages, in order (BCP 47 tags). */
  uiLocales?: string[]
  /** OIDC Core §3.1.2.1: requested Authentication Context Class References, in order. */
  acrValues?: string[]
  /** OIDC Core §5.5: individual claims requested for the ID token and the UserInfo response. */
  claims?: ClaimsRequest
}

/** Parses and checks the `claims` parameter: a JSON object of `id_token` and `userinfo` members. */
export function parseClaimsRequest (raw: string): ClaimsRequest {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    throw redirectError('invalid_request', 'the claims parameter is not valid JSON')
  }
  const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
  if (!isObject(parsed)) throw redirectError('invalid_request', 'the claims parameter must be a JSON object')
  const request: ClaimsRequest = {}
  for (const member of ['id_token', 'userinfo'] as const) {
    const value = parsed[member]
    if (value === undefined) continue
    if (!isObject(value)) throw redirectError('invalid_request', `claims.${member} must be an object`)
    const claims: Record<string, ClaimRequest | null> = Object.create(null) as Record<string, ClaimRequest | null>
    for (const [name, spec] of Object.entries(value)) {
      if (spec !== null && !isObject(spec)) throw redirectError('invalid_request', `claims.${member}.${name} must be null or an object`)
      claims[name] = spec === null ? null : spec as ClaimRequest
    }
    request[member] = claims
  }
  return request
}

/** Raw parameters as the query string or form parser hands them over. */
export type RawParams = Record<string, unknown>

const maxValueLength = 2048
// eslint-disable-next-line no-control-regex
export const controlCharacters = /[\u0000-\u001f\u007f]/
const promptValues = new Set(['none', 'login', 'consent', 'select_account'])

/**
 * Set (as a symbol key, never a parameter) on the parameters of a request that came through
 * PAR (RFC 9126) or was validated before: `require_pushed_authorization_requests` is met.
 */
export const pushedRequest: unique symbol = Symbol('fastify-oidc-provider.pushedRequest')

/** An error shown as a page: the client or redirect_uri cannot be trusted (RFC 6749 §4.1.2.1). */
function pageError (description: string): OAuthError {
  return new OAuthError('invalid_request', description)
}

/** An error sent back to the (validated) redirect_uri. */
export function redirectError (error: OAuthErrorCode, description: string): OAuthError {
  return new OAuthError(error, description, { allowRedirect: true, statusCode: 400 })
}

/**
 * Reads one parameter: absent and empty are the same (OIDC Core §3.1.2.1 implementers treat
 * empty values as omitted), a repeated one is an error (RFC 6749 §3.1).
 */
function single (params: RawParams, name: string, fail: (description: string) => OAuthError): string | undefined {
  const value = params[name]
  if (value === undefined || value === '') return undefined
  if (typeof value !== 'string') throw fail(`parameter "${name}" must appear once`)
  if (value.length > maxValueLength) throw fail(`parameter "${name}" is too long`)
  return value
}

/**
 * Step 1 (RFC 6749 §4.1.2.1): the client and redirect_uri. Until both check out, nothing
 * redirects; the user sees an error page.
 */
export async function resolveClientAndRedirect (ctx: ProviderContext, params: RawParams): Promise<{ client: ClientRecord, redirectUri: string }> {
  const clientId = single(params, 'client_id', pageError)
  if (clientId === undefined) throw pageError('the request has no client_id')
  const { client, problem } = await ctx.clients.lookup(clientId)
  // A refused metadata document (draft-ietf-oauth-client-id-metadata-document, "Metadata Discovery Errors") says why.
  if (client === undefined) throw pageError(problem ?? 'the application (client_id) is not registered with this provider')
  const redirectUri = single(params, 'redirect_uri', pageError)
  if (redirectUri === undefined) throw pageError('the request has no redirect_uri')
  // Exact string comparison (RFC 9700 §2.1), never a prefix or pattern match.
  if (!client.redirect_uris.includes(redirectUri)) {
    throw pageError('the redirect_uri is not registered for this application')
  }
  return { client, redirectUri }
}

/** Step 2: everything else. Errors from here on go back to the redirect_uri. */
export function validateAuthorizationRequest (
  ctx: ProviderContext,
  params: RawParams,
  client: ClientRecord,
  redirectUri: string
): AuthorizationRequest {
  for (const [name, value] of Object.entries(params)) {
    // RFC 8707 §2.1: `resource` may be repeated; it is read by resolveAuthorizationResources.
    if (Array.isArray(value) && name !== 'resource') throw redirectError('invalid_request', `parameter "${name}" must appear once`)
  }
  const get = (name: string): string | undefined => single(params, name, (description) => redirectError('invalid_request', description))

  // OIDC Core §6: request objects are not supported (and never fetched: no outbound calls).
  if (get('request') !== undefined) throw redirectError('request_not_supported', 'the request parameter is not supported')
  if (get('request_uri') !== undefined) throw redirectError('request_uri_not_supported', 'the request_uri parameter is not supported')

  // RFC 9126 §5, §6: this provider or this client accepts only pushed requests.
  if ((ctx.options.par.required || client.require_pushed_authorization_requests === true) && (params as Record<symbol, unknown>)[pushedRequest] !== true) {
    throw redirectError('invalid_request', 'this client must push its authorization requests (PAR, RFC 9126)')
  }
  const responseType = get('response_type')
  if (responseType === undefined) throw redirectError('invalid_request', 'response_type is required')
  if (responseType !== 'code') throw redirectError('unsupported_response_type', 'only response_type=code is supported')
  if (!client.response_types.includes('code') || !client.grant_types.includes('authorization_code')) {
    throw redirectError('unauthorized_client', 'this client may not use the authorization code flow')
  }
  const responseMode = get('response_mode')
  if (responseMode !== undefined && responseMode !== 'query') {
    throw redirectError('invalid_request', 'only response_mode=query is supported')
  }

  const state = get('state')
  if (state !== undefined && controlCharacters.test(state)) {
    throw redirectError('invalid_request', 'state must not contain control characters')
  }
  const nonce = get('nonce')
  if (nonce !== undefined && controlCharacters.test(nonce)) {
    throw redirectError('invalid_request', 'nonce must not contain control characters')
  }

  // RFC 6749 §3.3: unknown scopes are ignored; the client's registered scopes bound the rest.
  const allowed = clientScopes(client)
  const requested = (get('scope') ?? '').split(' ').filter((scope) => scope !== '')
  const scopes = [...new Set(requested)].filter((scope) => ctx.options.scopes.includes(scope) && allowed.has(scope))

  // RFC 7636 + RFC 9700 §2.1.1: PKCE for every client, S256 only (absent method means plain).
  const codeChallenge = get('code_challenge')
  // Except a confidential client the host allowed to send a nonce instead (lib/pkce.ts).
  if (codeChallenge === undefined) {
    if (!mayOmitCodeChallenge(client, { nonce, scopes })) throw redirectError('invalid_request', 'code_challenge is required (PKCE, S256)')
  } else {
    if (get('code_challenge_method') !== 'S256') throw redirectError('invalid_request', 'code_challenge_method must be S256')
    if (!isWellFormedChallenge(codeChallenge)) throw redirectError('invalid_request', 'code_challenge is malformed (43 base64url characters expected)')
  }

  const prompt = new Set((get('prompt') ?? '').split(' ').filter((value) => value !== ''))
  for (const value of prompt) {
    if (!promptValues.has(value)) throw redirectError('invalid_request', `unsupported prompt value "${value}"`)
  }
  if (prompt.has('none') && prompt.size > 1) {
    throw redirectError('invalid_request', 'prompt=none cannot be combined with other values')
  }

  let maxAge: number | undefined
  const rawMaxAge = get('max_age')
  if (rawMaxAge !== undefined) {
    if (!/^\d{1,10}$/.test(rawMaxAge)) throw redirectError('invalid_request', 'max_age must be a non-negative integer')
    maxAge = Number(rawMaxAge)
  }

  const request: AuthorizationRequest = {
    client,
    redirectUri,
    scopes,
    ...(codeChallenge === undefined ? {} : { codeChallenge, codeChallengeMethod: 'S256' as const }),
    prompt,
  }
  if (state !== undefined) request.state = state
  if (nonce !== undefined) request.nonce = nonce
  if (maxAge !== undefined) request.maxAge = maxAge
  const loginHint = get('login_hint')
  if (loginHint !== undefined) request.loginHint = loginHint.slice(0, 256)
  const idTokenHint = get('id_token_hint')
  if (idTokenHint !== undefined) request.idTokenHint = idTokenHint
  const dpopJkt = get('dpop_jkt')
  if (dpopJkt !== undefined) {
    // A SHA-256 JWK thumbprint (RFC 7638), base64url: 43 characters.
    if (!/^[A-Za-z0-9_-]{43}$/.test(dpopJkt)) throw redirectError('invalid_request', 'dpop_jkt must be the base64url SHA-256 thumbprint of a JWK (RFC 9449 section 10)')
    request.dpopJkt = dpopJkt
  }
  const spaceList = (value: string | undefined): string[] => (value ?? '').split(' ').filter((item) => item !== '').slice(0, 20)
  const uiLocales = spaceList(get('ui_locales'))
  if (uiLocales.length > 0) request.uiLocales = uiLocales
  const acrValues = spaceList(get('acr_values'))
  if (acrValues.length > 0) request.acrValues = acrValues
  const claims = get('claims')
  if (claims !== undefined) request.claims = parseClaimsRequest(claims)
  return request
}

/** What an interaction keeps of the request, as plain strings (it goes through the store). */
export function serializeRequest (request: AuthorizationRequest): Record<string, string> {
  const params: Record<string, string> = {
    client_id: request.client.client_id,
    redirect_uri: request.redirectUri,
    scope: request.scopes.join(' '),
    prompt: [...request.prompt].join(' '),
  }
  if (request.state !== undefined) params.state = request.state
  if (request.nonce !== undefined) params.nonce = request.nonce
  if (request.maxAge !== undefined) params.max_age = String(request.maxAge)
  if (request.loginHint !== undefined) params.login_hint = request.loginHint
  if (request.idTokenHint !== undefined) params.id_token_hint = request.idTokenHint
  if (request.dpopJkt !== undefined) params.dpop_jkt = request.dpopJkt
  if (request.uiLocales !== undefined) params.ui_locales = request.uiLocales.join(' ')
  if (request.acrValues !== undefined) params.acr_values = request.acrValues.join(' ')
  if (request.claims !== undefined) params.claims = JSON.stringify(request.claims)
  if (request.codeChallenge !== undefined) {
    params.code_challenge = request.codeChallenge
    params.code_challenge_method = request.codeChallengeMethod ?? 'S256'
  }
  // Normalised URIs have no spaces, so one space-joined string keeps them.
  if (request.resources !== undefined && request.resources.length > 0) params.resource = request.resources.join(' ')
  return params
}

/** Rebuilds a request saved in an interaction; the client is looked up again (it may be gone). */
export async function restoreRequest (ctx: ProviderContext, params: Record<string, string>): Promise<AuthorizationRequest> {
  const client = await ctx.clients.find(params.client_id ?? '')
  if (client === undefined || !client.redirect_uris.includes(params.redirect_uri ?? '')) {
    throw pageError('the application is no longer registered')
  }
  const request = validateAuthorizationRequest(ctx, { ...params, response_type: 'code', [pushedRequest]: true }, client, params.redirect_uri!)
  request.resources = await resolveAuthorizationResources(ctx, params.resource?.split(' '))
  return request
}
