import type { FastifyReply } from 'fastify'
import type { ProviderPages } from '../../contracts/pages.js'
import type { PageName } from '../../contracts/pages.js'
import { pageLocale } from './locale.js'

export type { PageName } from '../../contracts/pages.js'

declare module 'fastify' {
  interface FastifyReply {
    /** The provider's page renderer (brand, templates, catalogs), decorated on its own context only. */
    readonly oidcPages: ProviderPages
  }
}

/**
 * Renders one of the provider's pages with the headers every page gets (see http/pages/renderer.ts).
 * `formTargets` are the origins a form may post or redirect to: Chromium applies
 * `form-action` to the redirect that follows a form post, so the client's redirect_uri origin
 * must be listed for the consent form's final redirect to go through. The language is
 * `data.locale` when the caller picked it (from the interaction), else the request's
 * `ui_locales` query parameter, then `Accept-Language`, then English.
 */
export async function renderPage (
  reply: FastifyReply,
  page: PageName,
  data: Record<string, unknown>,
  formTargets: readonly string[] = [],
  scriptSource?: string
): Promise<FastifyReply> {
  const renderer = reply.oidcPages
  const locale = typeof data.locale === 'string' ? data.locale : requestLocale(reply)
  return await renderer.send(reply, page, data, { locale, formTargets, ...(scriptSource === undefined ? {} : { scriptSource }) })
}

/** The language of a page that belongs to no interaction (an error page). */
export function requestLocale (reply: FastifyReply): string {
  const query = reply.request.query as Record<string, unknown> | undefined
  const uiLocales = typeof query?.ui_locales === 'string' ? query.ui_locales.split(' ').slice(0, 20) : []
  return pageLocale(reply.oidcPages.catalogs, reply.request, uiLocales)
}

/** The CSP source for a redirect URI: its origin, or its scheme for private-use schemes. */
export function formTargetOf (redirectUri: string): string {
  const url = new URL(redirectUri)
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol
}
