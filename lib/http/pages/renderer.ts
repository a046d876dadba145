import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import type { FastifyReply } from 'fastify'
import { Eta } from 'eta'
import { Catalogs } from './i18n.js'
import type { BrandOptions, PageName, PageRenderOptions, PagesOptions, ProviderPages } from '../../contracts/pages.js'

const cssColor = /^(#[0-9A-Fa-f]{3,8}|[a-z]{3,30})$/
const colorVariables = { accent: '--accent', accentText: '--accent-text', background: '--bg', card: '--card', text: '--text' } as const

/** The CSP source of a brand URL: its origin, or 'self' for a path on the issuer's origin. */
function sourceOf (url: string, what: string): string {
  if (url.startsWith('/') && !url.startsWith('//')) return "'self'"
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError(`${what} must be an absolute http(s) URL or a path`)
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new TypeError(`${what} must be an http(s) URL`)
  return parsed.origin
}

/** The brand as the templates see it (`it.brand`), checked once. */
export interface BrandView {
  name?: string
  logoUrl?: string
  stylesheetUrl?: string
  /** CSS custom properties for the colours, e.g. `--accent: #e11d48;` (validated values only). */
  css: string
}

function checkBrand (brand: BrandOptions = {}): { view: BrandView, imgSources: string[], styleSources: string[] } {
  const view: BrandView = { css: '' }
  const imgSources: string[] = []
  const styleSources: string[] = []
  if (brand.name !== undefined) {
    if (typeof brand.name !== 'string' || brand.name.length > 100) throw new TypeError('brand.name must be a string of at most 100 characters')
    view.name = brand.name
  }
  if (brand.logoUrl !== undefined) {
    imgSources.push(sourceOf(brand.logoUrl, 'brand.logoUrl'))
    view.logoUrl = brand.logoUrl
  }
  if (brand.stylesheetUrl !== undefined) {
    styleSources.push(sourceOf(brand.stylesheetUrl, 'brand.stylesheetUrl'))
    view.stylesheetUrl = brand.stylesheetUrl
  }
  for (const [name, value] of Object.entries(brand.colors ?? {})) {
    const variable = colorVariables[name as keyof typeof colorVariables]
    if (variable === undefined) throw new TypeError(`brand.colors.${name} is not a known colour (${Object.keys(colorVariables).join(', ')})`)
    // Only plain colour values reach the stylesheet: nothing that could close the rule.
    if (typeof value !== 'string' || !cssColor.test(value)) throw new TypeError(`brand.colors.${name} must be a CSS colour like #1d4ed8`)
    view.css += `${variable}: ${value}; `
  }
  return { view, imgSources, styleSources }
}

/**
 * Renders the provider's pages: our Eta templates or the host's replacements, with the brand,
 * the message catalog of the page's language, and the headers every page gets: a strict CSP
 * (inline style only by a per-response nonce, no script at all), no framing, no sniffing, no
 * caching.
 */
export class PageRenderer implements ProviderPages {
  readonly catalogs: Catalogs
  readonly brand: BrandView
  readonly #eta: Eta
  readonly #hostTemplates = new Set<string>()
  readonly #imgSources: string
  readonly #styleSources: string

  constructor (viewsDir: string, options: PagesOptions = {}) {
    this.#eta = new Eta({ views: viewsDir, autoEscape: true, cache: true })
    this.catalogs = new Catalogs(options.messages)
    const brand = checkBrand(options.brand)
    this.brand = brand.view
    this.#imgSources = ["'self'", 'data:', ...brand.imgSources].join(' ')
    this.#styleSources = [...new Set(brand.styleSources)].join(' ')
    for (const [page, file] of Object.entries(options.templates ?? {})) {
      if (typeof file !== 'string' || file === '') throw new TypeError(`templates.${page} must be the path of an Eta template file`)
      const source = readFileSync(resolve(file), 'utf8')
      this.#eta.loadTemplate(`@${page}`, source, { async: true })
      this.#hostTemplates.add(page)
    }
  }

  /** Renders `page` into the reply. `data` are the page's variables (see the table in docs/pages.md, "Branding and languages"). */
  async send (reply: FastifyReply, page: PageName, data: Record<string, unknown>, options: PageRenderOptions): Promise<FastifyReply> {
    const nonce = randomBytes(16).toString('base64')
    const formAction = ["'self'", ...(options.formTargets ?? [])].join(' ')
    const styleSrc = `'nonce-${nonce}'${this.#styleSources === '' ? '' : ` ${this.#styleSources}`}`
    const scripts = options.scriptSource === undefined ? '' : `; script-src ${options.scriptSource}; connect-src 'self'`
    const imgSrc = options.imageSources === undefined || options.imageSources.length === 0 ? this.#imgSources : `${this.#imgSources} ${options.imageSources.join(' ')}`
    reply.headers({
      'content-security-policy': `default-src 'none'; style-src ${styleSrc}; img-src ${imgSrc}; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'${scripts}`,
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      // same-origin, not no-referrer: under no-referrer a browser posts our own forms with
      // `Origin: null`, which the cross-site form guard cannot tell from a sandboxed attacker.
      'referrer-policy': 'same-origin',
      'cache-control': 'no-store',
      pragma: 'no-cache',
      'content-language': options.locale,
    })
    reply.type('text/html; charset=utf-8')
    const locale = options.locale
    const t = (key: string, vars?: Record<string, string | number>): string => this.catalogs.t(locale, key, vars)
    const template = this.#hostTemplates.has(page) ? `@${page}` : `./${page}`
    const html = await this.#eta.renderAsync(template, { ...data, nonce, lang: locale, t, brand: this.brand })
    return await reply.send(html)
  }
}
