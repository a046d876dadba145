import type { FastifyRequest } from 'fastify'
import type { ClientRecord, Store } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'
import { nowSeconds, safeEqualDigests, sha256 } from '../tokens/crypto.js'
import { clientAuthFailureKind, FailureCounter, type CounterRead } from '../http/failure-counters.js'
import { AssertionError, assertionSubject, jwtBearerAssertionType, verifyClientAssertion } from './assertion.js'

/** Which endpoint is authenticating the client (for audit events and, later, rate limits). */
export type ClientAuthEndpoint = 'token' | 'introspect' | 'revoke' | 'par' | 'deviceAuthorization'

export interface ClientAuthOptions {
  endpoint: ClientAuthEndpoint
  /**
   * Whether a public client (`token_endpoint_auth_method: none`) may identify itself by
   * `client_id` alone here: authorization_code (PKCE proves possession), refresh_token, revoke.
   */
  allowPublic: boolean
}

/** The body members client authentication reads (RFC 6749 §2.3.1). */
export interface ClientAuthBody {
  client_id?: string
  client_secret?: string
  /** RFC 7521 §4.2, RFC 7523 §2.2: `private_key_jwt`. */
  client_assertion?: unknown
  client_assertion_type?: unknown
}

/** The credentials a request carried, before any lookup. */
interface PresentedCredentials {
  clientId: string
  secret: string | undefined
  /** True when they came in an `Authorization: Basic` header (drives `WWW-Authenticate`). */
  basic: boolean
}

/**
 * A stand-in hash compared against when the client is unknown or public, so that an unknown
 * client_id costs the same as a wrong secret (no client enumeration by timing).
 */
const dummySecretHash = sha256('fastify-oidc-provider: no such client')

/**
 * Called on every failed client authentication, with what is safe to record (never the
 * secret): counts it for the brute-force limit (per client_id and per IP) and audits it.
 */
export async function onClientAuthFailure (
  ctx: ProviderContext,
  failure: { clientId: string | undefined, ip: string, endpoint: ClientAuthEndpoint }
): Promise<void> {
  await new FailureCounter(ctx, clientAuthFailureKind).recordFailure(failure.clientId, failure.ip)
  ctx.audit('client_auth.failure', {
    ...(failure.clientId === undefined ? {} : { clientId: failure.clientId }),
    ip: failure.ip,
    endpoint: failure.endpoint,
  })
}

/**
 * RFC 6749 §2.3.1, §10.10: a 429 while this client_id or IP is over the failure limit, checked
 * before any secret is compared. Returns whether the client has failures on record, so a
 * success writes to the store (`onClientAuthSuccess`) only when there is something to clear.
 *
 * @example
 * const hasFailures = await refuseLockedClient(ctx, clientId, request.ip)
 */
export async function refuseLockedClient (ctx: ProviderContext, clientId: string | undefined, ip: string, read?: CounterRead): Promise<boolean> {
  const { lockedFor, nameHasFailures } = await new FailureCounter(ctx, clientAuthFailureKind).check(clientId, ip, read)
  if (lockedFor > 0) {
    throw new OAuthError('invalid_client', 'too many failed client authentications; retry later', {
      statusCode: 429,
      headers: { 'retry-after': String(Math.max(1, lockedFor)) },
    })
  }
  return nameHasFailures
}

/** A client that authenticates clears its own counter, so a flood of bad guesses cannot keep it locked out for long. */
export async function onClientAuthSuccess (ctx: ProviderContext, clientId: string): Promise<void> {
  await new FailureCounter(ctx, clientAuthFailureKind).recordSuccess(clientId)
}

/**
 * Authenticates the calling client: `client_secret_basic`, `client_secret_post` or `none`.
 * RFC 6749 §2.3.1 (Basic and body credentials), §3.2.1 (public clients identify by client_id),
 * §5.2 (401 `invalid_client`, with `WWW-Authenticate` when the Authorization header was used).
 *
 * A confidential client may use Basic or post whichever of the two it registered (both are
 * equally strong); a public client must not send a secret; two methods at once are refused
 * (RFC 6749 §2.3: "MUST NOT use more than one authentication method in each request").
 *
 * @example
 * const client = await authenticateClient(ctx, request, request.body, { endpoint: 'token', allowPublic: true })
 */
export async function authenticateClient (
  ctx: ProviderContext,
  request: FastifyRequest,
  body: ClientAuthBody,
  options: ClientAuthOptions
): Promise<ClientRecord> {
  if (body.client_assertion !== undefined || body.client_assertion_type !== undefined) {
    return await authenticateWithAssertion(ctx, request, body, options)
  }
  let presented: PresentedCredentials | undefined
  try {
    presented = readCredentials(ctx, request.headers.authorization, body)
  } catch (error) {
    if (error instanceof OAuthError && error.error === 'invalid_client') {
      await onClientAuthFailure(ctx, { clientId: undefined, ip: request.ip, endpoint: options.endpoint })
    }
    throw error
  }
  const basic = presented?.basic ?? false
  // A registered client is read with its failure counters in one store step where the store
  // offers it (issue 32); the lockout is still decided before any secret is compared.
  const store = ctx.store
  const along = presented !== undefined && store.getClientWithCounters !== undefined && ctx.clients.isStored(presented.clientId)
    ? new ClientAlongCounters(store, presented.clientId)
    : undefined
  const hasFailures = await refuseLockedClient(ctx, presented?.clientId, request.ip, along)
  if (presented === undefined) return await failAuthentication(ctx, request, options, 'client authentication is required', undefined, basic)

  const client = along?.done === true ? along.client : await ctx.clients.find(presented.clientId)
  const storedHash = client?.client_secret_hash
  if (presented.secret !== undefined) {
    // Always compare, even for an unknown or public client, so every failure costs the same.
    const matches = secretMatches(client, sha256(presented.secret), storedHash)
    if (client === undefined || storedHash === undefined || client.token_endpoint_auth_method === 'none') {
      return await failAuthentication(ctx, request, options, 'client authentication failed', presented.clientId, basic)
    }
    if (!matches) return await failAuthentication(ctx, request, options, 'client authentication failed', presented.clientId, basic)
    if (hasFailures) await onClientAuthSuccess(ctx, client.client_id)
    return client
  }
  // No secret: only a public client, and only where the caller allows it. A private_key_jwt
  // client must send its assertion.
  if (client === undefined || client.token_endpoint_auth_method !== 'none' || storedHash !== undefined) {
    return await failAuthentication(ctx, request, options, 'client authentication failed', presented.clientId, basic)
  }
  if (!options.allowPublic) return await failAuthentication(ctx, request, options, 'a public client cannot be authenticated at this endpoint', presented.clientId, basic)
  return client
}

/** Counts and audits a failed authentication, then throws the RFC 6749 §5.2 `invalid_client`. */
async function failAuthentication (
  ctx: ProviderContext,
  request: FastifyRequest,
  options: ClientAuthOptions,
  description: string,
  clientId: string | undefined,
  basic: boolean
): Promise<never> {
  await onClientAuthFailure(ctx, { clientId, ip: request.ip, endpoint: options.endpoint })
  throw invalidClient(ctx, description, basic)
}

/**
 * Reads a stored client along with its failure counters (`Store.getClientWithCounters`, one
 * store step), keeping the client for after the lockout check. A class rather than closures
 * made on every request.
 */
class ClientAlongCounters implements CounterRead {
  client: ClientRecord | undefined
  done = false

  constructor (private readonly store: Store, private readonly clientId: string) {}

  async read (keys: readonly string[]): Promise<Array<{ count: number, resetAt: number } | undefined>> {
    const found = await this.store.getClientWithCounters!(this.clientId, keys)
    this.client = found.client
    this.done = true
    return found.counters
  }
}

/**
 * The current secret, or the rotated-out one until its overlap ends (issue 30: a rotation
 * lets a fleet switch without downtime). Both digests are always compared, so timing tells
 * neither whether an overlap is running nor which secret matched.
 */
function secretMatches (client: ClientRecord | undefined, presentedHash: string, storedHash: string | undefined): boolean {
  const current = safeEqualDigests(presentedHash, storedHash ?? dummySecretHash)
  const previousHash = client?.previous_client_secret_hash
  const previous = safeEqualDigests(presentedHash, previousHash ?? dummySecretHash)
  const overlapOpen = previousHash !== undefined && nowSeconds() < (client?.previous_client_secret_expires_at ?? 0)
  return current || (previous && overlapOpen)
}

/** The URL each endpoint is reached at, which an assertion's `aud` may name. */
function endpointUrl (ctx: ProviderContext, endpoint: ClientAuthEndpoint): string {
  return ctx.urls[endpoint]
}

/**
 * `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): the client proves a key instead of
 * sending a secret. Failures count toward the same brute-force limits as wrong secrets.
 */
async function authenticateWithAssertion (
  ctx: ProviderContext,
  request: FastifyRequest,
  body: ClientAuthBody,
  options: ClientAuthOptions
): Promise<ClientRecord> {
  const { client_assertion: assertion, client_assertion_type: type } = body
  if (typeof assertion !== 'string' || assertion === '' || typeof type !== 'string') {
    throw new OAuthError('invalid_request', 'client_assertion and client_assertion_type must both be sent, once each')
  }
  // RFC 6749 §2.3: one authentication method per request.
  if (request.headers.authorization !== undefined || body.client_secret !== undefined) {
    throw new OAuthError('invalid_request', 'use either a client assertion or a client secret, not both (RFC 6749 section 2.3)')
  }
  const claimed = assertionSubject(assertion)
  // RFC 7521 §4.2: client_id is optional; when sent it must name the assertion's client.
  if (body.client_id !== undefined && body.client_id !== claimed) {
    throw new OAuthError('invalid_request', 'client_id does not match the client assertion')
  }
  const clientId = claimed ?? body.client_id
  const fail = async (description: string): Promise<never> => {
    await onClientAuthFailure(ctx, { clientId, ip: request.ip, endpoint: options.endpoint })
    throw invalidClient(ctx, description, false)
  }
  const hasFailures = await refuseLockedClient(ctx, clientId, request.ip)
  if (type !== jwtBearerAssertionType) return await fail(`client_assertion_type must be ${jwtBearerAssertionType}`)
  if (clientId === undefined) return await fail('client_assertion has no sub (the client_id)')
  const client = await ctx.clients.find(clientId)
  if (client === undefined || client.token_endpoint_auth_method !== 'private_key_jwt') {
    return await fail('client authentication failed')
  }
  try {
    await verifyClientAssertion(ctx, client, assertion, endpointUrl(ctx, options.endpoint))
  } catch (error) {
    if (error instanceof AssertionError) return await fail(error.description)
    throw error
  }
  if (hasFailures) await onClientAuthSuccess(ctx, client.client_id)
  return client
}

/**
 * Reads the client's credentials from the Authorization header or the body. Returns undefined
 * when the request carries none. Throws `invalid_request` for two methods at once and
 * `invalid_client` for a malformed Basic header or an unsupported scheme.
 */
function readCredentials (
  ctx: ProviderContext,
  authorization: string | undefined,
  body: ClientAuthBody
): PresentedCredentials | undefined {
  if (authorization !== undefined) {
    const basic = parseBasic(authorization)
    if (basic === undefined) {
      throw invalidClient(ctx, 'the Authorization header must use the Basic scheme with client_id:client_secret', true)
    }
    if (body.client_secret !== undefined) {
      throw new OAuthError('invalid_request', 'use either the Authorization header or client_secret in the body, not both (RFC 6749 §2.3)')
    }
    // A client_id in the body next to Basic is tolerated only when it names the same client.
    if (body.client_id !== undefined && body.client_id !== basic.clientId) {
      throw new OAuthError('invalid_request', 'client_id in the body does not match the Authorization header')
    }
    return { clientId: basic.clientId, secret: basic.secret, basic: true }
  }
  if (body.client_id === undefined || body.client_id === '') {
    if (body.client_secret !== undefined) throw new OAuthError('invalid_request', 'client_secret was sent without client_id')
    return undefined
  }
  return { clientId: body.client_id, secret: body.client_secret, basic: false }
}

/**
 * RFC 7617 Basic credentials, whose user-id and password are the client_id and client_secret
 * form-urlencoded (RFC 6749 §2.3.1), so both are decoded after splitting at the first colon.
 */
export function parseBasic (header: string): { clientId: string, secret: string } | undefined {
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header)
  if (match === null) return undefined
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon <= 0) return undefined
  const clientId = formDecode(decoded.slice(0, colon))
  const secret = formDecode(decoded.slice(colon + 1))
  if (clientId === undefined || secret === undefined || clientId === '') return undefined
  return { clientId, secret }
}

/** application/x-www-form-urlencoded decoding of one value; undefined when malformed. */
function formDecode (value: string): string | undefined {
  // Most client_ids and secrets have nothing encoded: returned as they are, without the copies.
  if (!value.includes('%') && !value.includes('+')) return value
  try {
    return decodeURIComponent(value.replaceAll('+', ' '))
  } catch {
    return undefined
  }
}

function invalidClient (ctx: ProviderContext, description: string, basic: boolean): OAuthError {
  return new OAuthError('invalid_client', description, {
    statusCode: 401,
    // RFC 6749 §5.2: when the client used the Authorization header, answer with its scheme.
    ...(basic ? { headers: { 'www-authenticate': `Basic realm="${ctx.issuer}"` } } : {}),
  })
}
