import type { FastifyRequest, preValidationAsyncHookHandler } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import { OAuthError } from '../contracts/errors.js'

/**
 * Why a browser form post was refused, or undefined when it may go on.
 *
 * Defence in depth on top of the per-form CSRF token and the SameSite browser cookie:
 * - `Sec-Fetch-Site: cross-site` (Fetch Metadata, W3C) says another site sent the request;
 * - an `Origin` header (RFC 6454 §7, sent by browsers on every form POST) other than the
 *   issuer's origin says the form was not ours (`null` included, sandboxed or opaque origins,
 *   unless `Sec-Fetch-Site: same-origin` comes with it).
 * A request with neither header (an older browser, curl) is left to the CSRF token.
 */
export function crossSiteReason (request: FastifyRequest, issuerOrigin: string): 'origin' | 'sec-fetch-site' | undefined {
  const site = request.headers['sec-fetch-site']
  if (site === 'cross-site') return 'sec-fetch-site'
  const origin = request.headers.origin
  // A page under `Referrer-Policy: no-referrer` posts `Origin: null` even to itself (Fetch
  // §3.2.5): accepted only when Fetch Metadata vouches that the post is same-origin.
  if (origin === 'null' && site === 'same-origin') return undefined
  if (origin !== undefined && origin !== issuerOrigin) return 'origin'
  return undefined
}

/**
 * The one guard for every browser form the provider (or a host on its interaction API)
 * accepts: login, consent, logout confirmation. A refused post gets a 403 error page before
 * anything is read or recorded, and a `form.cross_site` security event.
 *
 * @example
 * app.post(routes.logout, { config: { html: true }, preValidation: browserFormGuard(ctx) }, handler)
 */
export function browserFormGuard (ctx: ProviderContext): preValidationAsyncHookHandler {
  const issuerOrigin = new URL(ctx.issuer).origin
  return async (request) => { refuseCrossSiteForm(ctx, request, issuerOrigin) }
}

/** The same check as a call, for code that handles a form outside a route option (the host API). */
export function refuseCrossSiteForm (ctx: ProviderContext, request: FastifyRequest, issuerOrigin = new URL(ctx.issuer).origin): void {
  const reason = crossSiteReason(request, issuerOrigin)
  if (reason === undefined) return
  const origin = request.headers.origin
  const site = request.headers['sec-fetch-site']
  ctx.audit('form.cross_site', {
    path: request.url.split('?')[0] ?? '',
    reason,
    ip: request.ip,
    ...(origin === undefined ? {} : { origin: origin.slice(0, 200) }),
    ...(typeof site === 'string' ? { secFetchSite: site.slice(0, 40) } : {}),
  })
  throw new OAuthError('access_denied', 'this form was sent from another site; go back to the application and start again', { statusCode: 403 })
}
