import type { FastifyRequest } from 'fastify'

/**
 * Whether a form post came from another site (a login-CSRF or logout-CSRF attempt). Browsers
 * that send Fetch Metadata say so in `Sec-Fetch-Site`: only `same-origin` (our own page) and
 * `none` (typed by the user) pass. Older browsers are judged by `Origin`, which must be the
 * issuer's; `Origin: null` is what our own pages send (their `Referrer-Policy: no-referrer`
 * nulls it, Fetch §3.2.5), so it is left to the CSRF token and the browser-bound cookie.
 *
 * One small function so the shared cross-site form guard can replace it.
 */
export function isCrossSitePost (request: FastifyRequest, issuer: string): boolean {
  const site = request.headers['sec-fetch-site']
  if (typeof site === 'string') return site !== 'same-origin' && site !== 'none'
  const origin = request.headers.origin
  return typeof origin === 'string' && origin !== 'null' && origin !== new URL(issuer).origin
}
