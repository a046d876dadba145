import { deviceCodeGrantType, type ClientRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'
import { isWellFormedChallenge, mayOmitCodeChallenge } from '../tokens/pkce.js'
import { clientScopes } from '../tokens/issue.js'
import { resolveAuthorizationResources } from '../resources/resolve.js'
import { parseClaimsRequest } from './claims-request.js'
import { expandRequestObject } from './request-object.js'
import { pageError, redirectError } from './errors.js'
import type { AuthorizationRequest, RawParams } from './types.js'
import type { ResponseMode, ResponseTarget } from './respond.js'
import type { AuthorizationResponseType } from '../contracts/options.js'
import { canonicalResponseType, grantTypesOf, returnsCode, returnsIdToken } from '../clients/response-types.js'

/**
 * Where an authorization request came from. The rules are the same whatever the source; the
 * source only says whether the request counts as pushed (RFC 9126 §5, §6) and whether its
 * errors may go back to the redirect_uri (never at the PAR endpoint, §2.3).
 * - `query`: GET /authorize (RFC 6749 §4.1.1);
 * - `form`: POST /authorize (OIDC Core §3.1.2.1);
 * - `par`: POST /par, the pushed request itself (RFC 9126 §2.1);
 * - `pushed`: /authorize with a request_uri we issued, standing for what was pushed (§4);
 * - `restore`: a pending interaction's request, read back after a login or consent page (a
 *   device authorization's too: its stored parameters name the device code's hash);
 * - `device`: POST /device_authorization (RFC 8628 §3.1): no redirect_uri, response type or
 *   PKCE (the device code is redeemed by the client that asked for it), always confirmed by
 *   the user (§5.4), errors answered as JSON.
 */
export type RequestSource = 'query' | 'form' | 'par' | 'pushed' | 'restore' | 'device'

/** The stored parameter that marks a device authorization's request (never read from a client). */
export const deviceCodeHashParam = 'device_code_hash'

/** Where an error may be sent: the registered redirect_uri, in the request's response mode, with its `state`. */
export interface ErrorRedirect extends ResponseTarget {
  state: string | undefined
}

/**
 * The parser's answer: the validated request, or the error with, when the error may go to the
 * client (RFC 6749 §4.1.2.1: only once client and redirect_uri are trusted), where to send it.
 */
export type ParsedAuthorizationRequest =
  | { ok: true, request: AuthorizationRequest }
  | { ok: false, error: OAuthError, redirect?: ErrorRedirect }

export interface ParseOptions {
  via: RequestSource
  /** The client `client_id` names, when the caller already authenticated it (PAR) or read it (issue 32): not looked up again. */
  client?: ClientRecord
}

const maxValueLength = 2048
// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f]/
const promptValues = new Set(['none', 'login', 'consent', 'select_account'])
const pushedSources: ReadonlySet<RequestSource> = new Set(['par', 'pushed', 'restore'])
/** Requests read back from the store: their request object (if any) was verified when they arrived. */
const pushedOrStored: ReadonlySet<RequestSource> = new Set(['pushed', 'restore'])

/** Whether the request came as a request object (OIDC Core §6.1), and a signed one. */
type RequestObjectUse = 'none' | 'unsigned' | 'signed'

/**
 * The one authorization-request parser, used by GET and POST /authorize, /par, a pushed
 * request's use at /authorize and the restore of a pending interaction, so that each of them
 * accepts and refuses exactly the same requests (RFC 9126 §2.1: a pushed request is validated
 * as an authorization request would be). Three steps: the client and redirect_uri (errors are
 * pages), the parameters (errors go to the redirect_uri), then what needs a look-up: the
 * resources (RFC 8707 §2) and the `id_token_hint`'s signature (OIDC Core §3.1.2.1).
 * Protocol errors are returned, not thrown; a store outage still throws.
 *
 * @example
 * const parsed = await parseAuthorizationRequest(ctx, request.query as RawParams, { via: 'query' })
 * if (!parsed.ok) return parsed.redirect === undefined ? showErrorPage(parsed.error) : redirectWithError(parsed)
 */
export async function parseAuthorizationRequest (ctx: ProviderContext, params: RawParams, options: ParseOptions): Promise<ParsedAuthorizationRequest> {
  // RFC 8628: a device authorization, as asked at /device_authorization or stored since.
  const deviceCodeHash = options.via === 'restore' && typeof params[deviceCodeHashParam] === 'string' ? params[deviceCodeHashParam] : undefined
  const device = options.via === 'device' || deviceCodeHash !== undefined
  let client: ClientRecord
  try {
    client = device ? await deviceClient(ctx, params, options.client) : await trustedClient(ctx, params, options.client)
  } catch (error) {
    if (error instanceof OAuthError) return { ok: false, error }
    throw error
  }
  // OIDC Core §6, RFC 9101: a request object is opened once the client is known (its keys
  // verify it) and before the redirect_uri is checked (the object's own wins). When it is
  // refused, its redirect_uri cannot be trusted: the outside one is used if registered.
  let effective = params
  let requestObject: RequestObjectUse = 'none'
  let objectError: OAuthError | undefined
  if (!device && ctx.options.requestObjects.enabled && params.request !== undefined && params.request !== '') {
    try {
      const expanded = await expandRequestObject(ctx, client, params)
      effective = expanded.params
      requestObject = expanded.signed ? 'signed' : 'unsigned'
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error
      objectError = error
    }
  }
  // A device authorization has no redirect_uri (RFC 8628 §3.1): its answers are JSON.
  let redirectUri = ''
  try {
    if (!device) redirectUri = trustedRedirect(effective, client)
  } catch (error) {
    if (error instanceof OAuthError) return { ok: false, error }
    throw error
  }
  try {
    if (objectError !== undefined) throw objectError
    const request = device
      ? validateDeviceRequest(ctx, params, client, deviceCodeHash)
      : validateRequest(ctx, effective, client, redirectUri, options.via, requestObject)
    // RFC 8707 §2: each resource an absolute URI the provider knows; `invalid_target` otherwise.
    request.resources = await resolveAuthorizationResources(ctx, effective.resource)
    if (request.idTokenHint !== undefined) request.hintSubject = await hintedSubject(ctx, request.client, request.idTokenHint)
    return { ok: true, request }
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error
    // RFC 9126 §2.3: the PAR endpoint answers errors itself, as JSON; it never redirects.
    // RFC 8628 §3.2: a device authorization's errors are JSON too.
    if (!error.allowRedirect || options.via === 'par' || device) return { ok: false, error }
    return { ok: false, error, redirect: { redirectUri, responseMode: errorResponseMode(effective), state: echoedState(effective) } }
  }
}

/**
 * OIDC Core §3.1.2.1: the `sub` of an `id_token_hint` that is an ID token we issued to this
 * client; anything else is `invalid_request`. An expired hint is still a hint; signature,
 * issuer and audience are not optional.
 */
async function hintedSubject (ctx: ProviderContext, client: ClientRecord, idTokenHint: string): Promise<string> {
  const payload = await ctx.keys.verifier.verify(idTokenHint, { typ: 'JWT', audience: client.client_id, ignoreExpiry: true })
  if (typeof payload?.sub !== 'string') throw redirectError('invalid_request', 'id_token_hint is not a valid ID token issued to this client')
  return payload.sub
}

/**
 * The `state` an error response carries (RFC 6749 §4.1.2.1: "if present in the request"),
 * even when the request was refused for another parameter; never one with control characters.
 */
function echoedState (params: RawParams): string | undefined {
  const state = params.state
  return typeof state === 'string' && state !== '' && !controlCharacters.test(state) ? state : undefined
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
 * Step 1 (RFC 6749 §4.1.2.1): the client, then (after its request object, if any, is opened)
 * the redirect_uri. Until both check out, nothing redirects; the user sees an error page.
 */
async function trustedClient (ctx: ProviderContext, params: RawParams, known: ClientRecord | undefined): Promise<ClientRecord> {
  const clientId = single(params, 'client_id', pageError)
  if (clientId === undefined) throw pageError('the request has no client_id')
  if (known !== undefined) return known
  const found = await ctx.clients.lookup(clientId)
  // A refused metadata document (draft-ietf-oauth-client-id-metadata-document, "Metadata Discovery Errors") says why.
  if (found.client === undefined) throw pageError(found.problem ?? 'the application (client_id) is not registered with this provider')
  return found.client
}

function trustedRedirect (params: RawParams, client: ClientRecord): string {
  const redirectUri = single(params, 'redirect_uri', pageError)
  if (redirectUri === undefined) throw pageError('the request has no redirect_uri')
  // Exact string comparison (RFC 9700 §2.1), never a prefix or pattern match.
  if (!client.redirect_uris.includes(redirectUri)) {
    throw pageError('the redirect_uri is not registered for this application')
  }
  return redirectUri
}

/**
 * The client of a device authorization: the one that authenticated at the endpoint, or the one
 * a stored request names (looked up again: it may be gone), registered for the device grant.
 */
async function deviceClient (ctx: ProviderContext, params: RawParams, known: ClientRecord | undefined): Promise<ClientRecord> {
  let client = known
  if (client === undefined) {
    const clientId = single(params, 'client_id', pageError)
    client = clientId === undefined ? undefined : (await ctx.clients.lookup(clientId)).client
    if (client === undefined) throw pageError('the application (client_id) is not registered with this provider')
  }
  // RFC 8628 §3.1, RFC 6749 §5.2: a client not registered for the grant may not start it.
  if (!client.grant_types.includes(deviceCodeGrantType)) {
    throw new OAuthError('unauthorized_client', 'this client may not use the device authorization grant')
  }
  return client
}

/**
 * RFC 8628 §3.1: `scope` (and here `resource`, `claims`, `acr_values`, `ui_locales`), read with
 * the same rules as at /authorize. The user always confirms (`prompt=consent`): the request
 * did not come from their browser (§5.4, remote phishing).
 */
function validateDeviceRequest (ctx: ProviderContext, params: RawParams, client: ClientRecord, deviceCodeHash: string | undefined): AuthorizationRequest {
  const { get, scopes } = readSharedParams(ctx, params, client, (description) => new OAuthError('invalid_request', description))
  const request: AuthorizationRequest = {
    client,
    redirectUri: '',
    // Never used: a device authorization's answer goes to the device by polling, not to a redirect_uri.
    responseType: 'code',
    responseMode: 'query',
    scopes,
    resources: [],
    prompt: new Set(['consent']),
  }
  if (deviceCodeHash !== undefined) request.deviceCodeHash = deviceCodeHash
  readPreferences(request, get)
  return request
}

/**
 * What /authorize and device authorization read alike, in one place: every parameter but
 * `resource` appears once (RFC 6749 §3.1; RFC 8707 §2 lets `resource` repeat), and of the
 * requested scopes the unknown are ignored and the client's registered scopes bound the rest
 * (RFC 6749 §3.3). `fail` makes the error: a redirect at /authorize, JSON for a device.
 */
function readSharedParams (
  ctx: ProviderContext,
  params: RawParams,
  client: ClientRecord,
  fail: (description: string) => OAuthError
): { get: (name: string) => string | undefined, scopes: string[] } {
  for (const [name, value] of Object.entries(params)) {
    if (Array.isArray(value) && name !== 'resource') throw fail(`parameter "${name}" must appear once`)
  }
  const get = (name: string): string | undefined => single(params, name, fail)
  const allowed = clientScopes(client)
  const requested = (get('scope') ?? '').split(' ').filter((scope) => scope !== '')
  const scopes = [...new Set(requested)].filter((scope) => ctx.options.scopes.includes(scope) && allowed.has(scope))
  return { get, scopes }
}

/**
 * `ui_locales`, `acr_values` (OIDC Core §3.1.2.1: space-separated lists, kept to 20 items) and
 * `claims` (§5.5), read alike for both kinds of request.
 */
function readPreferences (request: AuthorizationRequest, get: (name: string) => string | undefined): void {
  const spaceList = (value: string | undefined): string[] => (value ?? '').split(' ').filter((item) => item !== '').slice(0, 20)
  const uiLocales = spaceList(get('ui_locales'))
  if (uiLocales.length > 0) request.uiLocales = uiLocales
  const acrValues = spaceList(get('acr_values'))
  if (acrValues.length > 0) request.acrValues = acrValues
  const claims = get('claims')
  if (claims !== undefined) request.claims = parseClaimsRequest(claims)
}

/**
 * `response_type` and `response_mode` (RFC 6749 §3.1.1; OAuth 2.0 Multiple Response Type
 * Encoding Practices §2.1, §5; Form Post Response Mode §2; OIDC Core §3.2.2.1, §3.3.2.1).
 * A response type with `token` is refused: no access token in the front channel (OAuth 2.1,
 * RFC 9700 §2.1.2). `id_token` and `code id_token` only where the host (`responseTypes`) and
 * the client (`response_types`) opted in, answered in the fragment (their default) or by
 * form_post: never in the query, where an ID token would end up in logs and Referer headers.
 */
function checkResponseTypeAndMode (
  ctx: ProviderContext,
  client: ClientRecord,
  get: (name: string) => string | undefined
): { responseType: AuthorizationResponseType, responseMode: ResponseMode } {
  const raw = get('response_type')
  if (raw === undefined) throw redirectError('invalid_request', 'response_type is required')
  const responseType = canonicalResponseType(raw)
  if (responseType === undefined || !ctx.options.responseTypes.includes(responseType)) {
    const why = /(^| )token( |$)/.test(raw) ? ': no access token is issued at the authorization endpoint (RFC 9700 section 2.1.2)' : ''
    throw redirectError('unsupported_response_type', `response_type must be one of: ${ctx.options.responseTypes.join(', ')}${why}`)
  }
  const registered = client.response_types.some((type) => canonicalResponseType(type) === responseType)
  if (!registered || !grantTypesOf(responseType).every((grant) => client.grant_types.includes(grant))) {
    throw redirectError('unauthorized_client', `this client is not registered for response_type=${responseType}`)
  }
  const requested = get('response_mode')
  if (requested !== undefined && !isResponseMode(requested)) {
    throw redirectError('invalid_request', `response_mode must be one of: ${responseModes.join(', ')}`)
  }
  if (requested === 'query' && returnsIdToken(responseType)) {
    throw redirectError('invalid_request', `response_mode=query is not allowed for response_type=${responseType} (use fragment or form_post)`)
  }
  return { responseType, responseMode: requested ?? defaultResponseMode(responseType) }
}

/** Multiple Response Type Encoding Practices §2.1, §5: query for `code`, fragment for anything with an ID token. */
function defaultResponseMode (responseType: AuthorizationResponseType): ResponseMode {
  return returnsIdToken(responseType) ? 'fragment' : 'query'
}

const responseModes: readonly ResponseMode[] = ['query', 'fragment', 'form_post']
const isResponseMode = (value: string): value is ResponseMode => (responseModes as readonly string[]).includes(value)

/**
 * The mode an error goes back in, read before (or without) validating the request: the
 * requested `response_mode` when it is one we speak and may be used with the response type,
 * else the response type's default (fragment when it names a token: Multiple Response Type
 * Encoding Practices §5 never puts those in the query), else query.
 */
function errorResponseMode (params: RawParams): ResponseMode {
  const type = typeof params.response_type === 'string' ? params.response_type.split(' ') : []
  const tokenInFront = type.includes('id_token') || type.includes('token')
  const requested = params.response_mode
  if (typeof requested === 'string' && isResponseMode(requested) && !(requested === 'query' && tokenInFront)) return requested
  return tokenInFront ? 'fragment' : 'query'
}

/** Step 2: everything else but the resources. Errors from here on may go back to the redirect_uri. */
function validateRequest (
  ctx: ProviderContext,
  params: RawParams,
  client: ClientRecord,
  redirectUri: string,
  via: RequestSource,
  requestObject: RequestObjectUse
): AuthorizationRequest {
  const { get, scopes } = readSharedParams(ctx, params, client, (description) => redirectError('invalid_request', description))

  // RFC 9126 §2.1: "request_uri ... MUST NOT be provided" in a pushed request.
  if (via === 'par' && get('request_uri') !== undefined) throw redirectError('invalid_request', 'request_uri must not be pushed (RFC 9126 section 2.1)')
  // OIDC Core §6.1: `request` left here means the host turned request objects off.
  if (get('request') !== undefined) throw redirectError('request_not_supported', 'the request parameter is not supported')
  // OIDC Core §6.2, RFC 9101 §5.2: only our PAR URNs (resolved before the parser), never fetched.
  if (get('request_uri') !== undefined) throw redirectError('request_uri_not_supported', 'the request_uri parameter is not supported (only request_uri values from the PAR endpoint)')
  // RFC 9101 §10.5: this provider or client accepts only signed request objects. Checked where a
  // request arrives; a pushed or stored request was checked when it did.
  if ((ctx.options.requestObjects.requireSigned || client.require_signed_request_object === true) && !pushedOrStored.has(via) && requestObject !== 'signed') {
    throw redirectError('invalid_request', 'this client must send a signed request object (require_signed_request_object, RFC 9101 section 10.5)')
  }

  // RFC 9126 §5, §6: this provider or this client accepts only pushed requests.
  if ((ctx.options.par.required || client.require_pushed_authorization_requests === true) && !pushedSources.has(via)) {
    throw redirectError('invalid_request', 'this client must push its authorization requests (PAR, RFC 9126)')
  }
  const { responseType, responseMode } = checkResponseTypeAndMode(ctx, client, get)

  const state = get('state')
  if (state !== undefined && controlCharacters.test(state)) {
    throw redirectError('invalid_request', 'state must not contain control characters')
  }
  const nonce = get('nonce')
  if (nonce !== undefined && controlCharacters.test(nonce)) {
    throw redirectError('invalid_request', 'nonce must not contain control characters')
  }
  // OIDC Core §3.2.2.1, §3.3.2.11: an ID token in the front channel needs a nonce (replay).
  if (returnsIdToken(responseType) && nonce === undefined) throw redirectError('invalid_request', `nonce is required for response_type=${responseType}`)

  // OIDC Core §3.2.2.1, §3.3.2.1: an ID token is an OpenID Connect answer, asked for with `openid`.
  if (returnsIdToken(responseType) && !scopes.includes('openid')) throw redirectError('invalid_request', `response_type=${responseType} needs the openid scope`)

  // RFC 7636 + RFC 9700 §2.1.1: PKCE for every client, S256 only (absent method means plain).
  const codeChallenge = get('code_challenge')
  // Except a confidential client the host allowed to send a nonce, or nothing, instead
  // (lib/tokens/pkce.ts), and a response without a code (response_type=id_token), where PKCE has nothing to bind.
  if (codeChallenge === undefined) {
    if (returnsCode(responseType) && !mayOmitCodeChallenge(client, { nonce, scopes })) throw redirectError('invalid_request', 'code_challenge is required (PKCE, S256)')
  } else {
    if (get('code_challenge_method') !== 'S256') throw redirectError('invalid_request', 'code_challenge_method must be S256')
    if (!isWellFormedChallenge(codeChallenge)) throw redirectError('invalid_request', 'code_challenge is malformed (43 base64url characters expected)')
  }

  // OIDC Core §3.1.2.1: prompt is a space-separated list; `none` stands alone.
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
    responseType,
    responseMode,
    scopes,
    ...(codeChallenge === undefined ? {} : { codeChallenge, codeChallengeMethod: 'S256' as const }),
    resources: [],
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
    // RFC 9449 §10: a SHA-256 JWK thumbprint (RFC 7638), base64url: 43 characters.
    if (!/^[A-Za-z0-9_-]{43}$/.test(dpopJkt)) throw redirectError('invalid_request', 'dpop_jkt must be the base64url SHA-256 thumbprint of a JWK (RFC 9449 section 10)')
    request.dpopJkt = dpopJkt
  }
  readPreferences(request, get)
  return request
}
