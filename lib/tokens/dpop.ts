import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ClientRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import type { AccessTokenClaims } from './issue.js'
import { OAuthError } from '../contracts/errors.js'
import { dpopAlgorithms, DpopProofError, readDpopHeader, verifyDpopProof, type VerifiedDpopProof } from './dpop-proof.js'

/**
 * The provider's use of DPoP (RFC 9449): proofs at the token and PAR endpoints (§5, §10.1),
 * and sender-constrained tokens at its own protected resource, /userinfo (§7).
 */

const proofs = new WeakMap<FastifyRequest, VerifiedDpopProof>()

/** The verified proof's key thumbprint for this request, once `verifyRequestProof` ran. */
export function dpopJktOf (request: FastifyRequest): string | undefined {
  return proofs.get(request)?.jkt
}

/**
 * Checks the DPoP proof of a token or PAR request, if there is one (§4.3, §5, §8). Answers
 * 400 `invalid_dpop_proof`, or `use_dpop_nonce` with a fresh `DPoP-Nonce` when nonces are
 * required. A client registered with `dpop_bound_access_tokens` must send one at the token
 * endpoint (§5.2). Returns the proof's key thumbprint.
 *
 * @example
 * const jkt = await verifyRequestProof(ctx, request, reply, ctx.urls.token, client)
 */
export async function verifyRequestProof (
  ctx: ProviderContext,
  request: FastifyRequest,
  reply: FastifyReply,
  url: string,
  client?: ClientRecord
): Promise<string | undefined> {
  const requireNonce = ctx.options.dpop.requireNonce
  try {
    const header = readDpopHeader(request.headers)
    if (header === undefined) {
      if (client?.dpop_bound_access_tokens === true) {
        throw new DpopProofError('invalid_dpop_proof', 'this client must send a DPoP proof (dpop_bound_access_tokens)')
      }
      return undefined
    }
    const proof = await verifyDpopProof(header, {
      method: 'POST',
      url,
      markUsed: async (key, expiresAt) => await ctx.store.markUsed(key, expiresAt),
      maxAgeSeconds: ctx.options.dpop.proofMaxAge,
      ...(requireNonce ? { checkNonce: (nonce: string | undefined) => ctx.dpopNonces.isValid(nonce) } : {}),
    })
    proofs.set(request, proof)
    if (requireNonce) reply.header('dpop-nonce', ctx.dpopNonces.current())
    return proof.jkt
  } catch (error) {
    if (error instanceof DpopProofError) {
      // RFC 9449 §8: with nonces required, every error tells the client the one to use.
      throw new OAuthError(error.code, error.description, { statusCode: 400, headers: requireNonce ? { 'dpop-nonce': ctx.dpopNonces.current() } : {} })
    }
    throw error
  }
}

/** RFC 9449 §7.1: `Authorization: DPoP <token>`; undefined for any other scheme. */
export function dpopAuthorization (request: FastifyRequest): string | undefined {
  const match = /^DPoP +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(request.headers.authorization ?? '')
  return match === null ? undefined : match[1]
}

/** The DPoP challenge (RFC 9449 §7.1) with an RFC 6750 §3 error. */
export function dpopChallenge (error: 'invalid_token' | 'invalid_dpop_proof' | 'invalid_request', description: string): OAuthError {
  const oauthError = new OAuthError(error, description, { statusCode: error === 'invalid_request' ? 400 : 401 })
  // The challenge's description is the body's, cleaned once by OAuthError (RFC 6750 §3's charset).
  oauthError.headers['www-authenticate'] = `DPoP algs="${dpopAlgorithms.join(' ')}", error="${error}", error_description="${oauthError.error_description}"`
  return oauthError
}

/**
 * At a protected resource (RFC 9449 §7): a DPoP-bound token (`cnf.jkt`) is accepted only with
 * the DPoP scheme and a valid proof for it, carrying `ath`; a bound token sent as Bearer is
 * refused (§7.1), and so is an unbound token sent with the DPoP scheme.
 *
 * @example
 * await checkSenderConstraint(ctx, request, claims, token, dpopAuthorization(request) !== undefined, ctx.urls.userinfo)
 */
export async function checkSenderConstraint (
  ctx: ProviderContext,
  request: FastifyRequest,
  claims: AccessTokenClaims,
  token: string,
  dpopScheme: boolean,
  url: string
): Promise<void> {
  const jkt = claims.cnf?.jkt
  if (!dpopScheme) {
    if (jkt !== undefined) throw dpopChallenge('invalid_token', 'this access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof')
    return
  }
  if (jkt === undefined) throw dpopChallenge('invalid_token', 'this access token is not DPoP-bound: send it with the Bearer scheme')
  try {
    const header = readDpopHeader(request.headers)
    if (header === undefined) throw new DpopProofError('invalid_dpop_proof', 'a DPoP proof is required with a DPoP-bound access token')
    await verifyDpopProof(header, {
      method: request.method,
      url,
      accessToken: token,
      expectedJkt: jkt,
      markUsed: async (key, expiresAt) => await ctx.store.markUsed(key, expiresAt),
      maxAgeSeconds: ctx.options.dpop.proofMaxAge,
    })
  } catch (error) {
    if (error instanceof DpopProofError) throw dpopChallenge('invalid_dpop_proof', error.description)
    throw error
  }
}

/**
 * A code bound with `dpop_jkt` (RFC 9449 §10) or a public client's bound refresh token (§5)
 * is redeemed only with a proof of the same key; `invalid_grant` otherwise.
 */
export function checkKeyBinding (boundJkt: string | undefined, proofJkt: string | undefined, what: string): void {
  if (boundJkt === undefined) return
  if (proofJkt === undefined) throw new OAuthError('invalid_grant', `this ${what} is bound to a DPoP key: send a DPoP proof of it`)
  if (proofJkt !== boundJkt) throw new OAuthError('invalid_grant', `the DPoP proof key is not the one this ${what} is bound to`)
}
