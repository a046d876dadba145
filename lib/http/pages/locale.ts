import type { FastifyRequest } from 'fastify'
import type { PageCatalogs } from '../../contracts/pages.js'

/** An Accept-Language header longer than this is cut before it is negotiated (no unbounded parsing). */
const maxAcceptLanguageLength = 500

/**
 * The one choice of a page's language, for every page (login, consent, logout, signed-out,
 * error): the user's `ui_locales` first (OIDC Core §3.1.2.1, RP-Initiated Logout 1.0 §2), then
 * the browser's `Accept-Language` (RFC 9110 §12.5.4), then English (see `Catalogs.pick`).
 *
 * @example
 * const locale = pageLocale(ctx.pages.catalogs, request, authorization.uiLocales)
 */
export function pageLocale (catalogs: PageCatalogs, request: FastifyRequest, uiLocales: readonly string[] = []): string {
  const accept = request.headers['accept-language']
  return catalogs.pick(uiLocales, typeof accept === 'string' ? accept.slice(0, maxAcceptLanguageLength) : undefined)
}
