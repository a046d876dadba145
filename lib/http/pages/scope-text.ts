import type { ProviderContext } from '../../contracts/context.js'
import type { PageCatalogs } from '../../contracts/pages.js'

/**
 * The words for a scope on a page (consent, the account page's connected apps): the host's own,
 * else the catalog's, else the words of the resource server (API) that declared it, else its name.
 */
export function scopeDescription (ctx: ProviderContext, catalogs: PageCatalogs, locale: string, scope: string): string {
  const own = ctx.options.scopeRegistry.description(scope)
  if (own !== undefined) return own
  const key = `scope.${scope}`
  if (catalogs.has(locale, key)) return catalogs.t(locale, key)
  return ctx.resources.describeScope(scope) ?? scope
}
