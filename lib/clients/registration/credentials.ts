import type { FastifyRequest } from 'fastify'
import type { ClientRecord } from '../../contracts/store.js'
import type { ProviderContext } from '../../contracts/context.js'
import { randomToken, safeEqual, sha256 } from '../../tokens/crypto.js'
import { bearerToken, invalidToken } from './bearer.js'

/** Compared against when the client is unknown, so that an unknown client costs what a wrong token does. */
const dummyTokenHash = sha256('fastify-oidc-provider: no such registered client')

/**
 * RFC 7591 §3: with `registration.initialAccessToken` configured, `POST /register` needs one of
 * those tokens as a Bearer credential. Every configured token is compared (constant time, no
 * early exit) so the timing tells nothing about which one was close.
 */
export function checkInitialAccessToken (ctx: ProviderContext, request: FastifyRequest): void {
  const policy = ctx.options.registration
  if (policy === false || policy.initialAccessToken === undefined) return
  const presented = bearerToken(request)
  let accepted = false
  for (const token of [policy.initialAccessToken].flat()) {
    if (safeEqual(presented, token)) accepted = true
  }
  if (!accepted) throw invalidToken('the initial access token is invalid')
}

/**
 * RFC 7592 §2: the client configuration endpoint answers only to the client's registration
 * access token. An unknown client, a static client (configured by the host, not manageable
 * over HTTP) and a wrong token all get the same 401, so the answer does not reveal which
 * clients exist.
 */
export async function authenticateManagement (
  ctx: ProviderContext,
  request: FastifyRequest,
  clientId: string
): Promise<{ client: ClientRecord, registrationAccessToken: string }> {
  const presented = bearerToken(request)
  const client = ctx.staticClients.has(clientId) ? undefined : await ctx.store.getClient(clientId)
  const expected = client?.registration_access_token_hash ?? dummyTokenHash
  const valid = safeEqual(sha256(presented), expected)
  if (client === undefined || client.registration_access_token_hash === undefined || !valid) {
    throw invalidToken('the registration access token is invalid')
  }
  return { client, registrationAccessToken: presented }
}

/**
 * A new client_id (128 bits), never one of the host's static clients: those are looked up
 * first, so a collision would make the registered client unreachable.
 */
export function newClientId (ctx: ProviderContext): string {
  let clientId = randomToken(16)
  while (ctx.staticClients.has(clientId)) clientId = randomToken(16)
  return clientId
}

/** A client secret (256 bits) and the only thing the store gets of it: its SHA-256. */
export function newClientSecret (): { secret: string, hash: string } {
  const secret = randomToken(32)
  return { secret, hash: sha256(secret) }
}

/** An RFC 7592 registration access token (256 bits) and its SHA-256. */
export function newRegistrationAccessToken (): { token: string, hash: string } {
  const token = randomToken(32)
  return { token, hash: sha256(token) }
}

/**
 * RFC 7592 §2.2: a `client_secret` in an update must be the current one (the client cannot pick
 * its own). Constant time, and a public client (no secret) fails like a wrong secret.
 */
export function isCurrentClientSecret (client: ClientRecord, secret: string): boolean {
  const valid = safeEqual(sha256(secret), client.client_secret_hash ?? dummyTokenHash)
  return valid && client.client_secret_hash !== undefined
}
