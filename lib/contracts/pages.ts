import type { FastifyReply } from 'fastify'
/** A message catalog: key → text with `{name}` placeholders. */
export type Messages = Record<string, string>

/**
 * The host's brand on the built-in pages. Colours are CSS colours (`#rrggbb`, `#rgb` or a
 * named colour); URLs are absolute `https:`/`http:` URLs or paths on the issuer's origin.
 * The logo and the stylesheet's origins are added to the pages' CSP (`img-src`, `style-src`);
 * scripts stay forbidden.
 */
export interface BrandOptions {
  /** Product name, shown above each page's card and in the window title. */
  name?: string
  /** Logo image URL, shown above the name. */
  logoUrl?: string
  colors?: {
    /** Buttons and links. */
    accent?: string
    /** Text on buttons. */
    accentText?: string
    /** Page background. */
    background?: string
    /** Card background. */
    card?: string
    /** Text colour. */
    text?: string
  }
  /** An extra stylesheet linked after ours (no inline script, ever). */
  stylesheetUrl?: string
}

/**
 * A page the provider renders; the host may replace any with its own Eta template file.
 * `device` is the code entry page at the verification URI (RFC 8628 §3.3), `device-done` the
 * page after the user's answer ("you can close this window").
 */
export type PageName = 'login' | 'consent' | 'error' | 'logout' | 'logged-out' | 'device' | 'device-done' | 'account' | (string & {})

/**
 * The `pages` option.
 *
 * @example
 * pages: {
 *   brand: { name: 'Acme ID', logoUrl: '/assets/acme.svg', colors: { accent: '#e11d48' } },
 *   templates: { login: './views/acme-login.eta' },
 *   messages: { es: { 'login.title': 'Iniciar sesión' } },
 * }
 */
export interface PagesOptions {
  brand?: BrandOptions
  /** Page name → path of an Eta template file that replaces ours (same variables). */
  templates?: Partial<Record<PageName, string>>
  /** Locale → messages: adds a language, or changes texts of a shipped one (English fills gaps). */
  messages?: Record<string, Messages>
}

/** The message catalogs of the pages' languages (http/pages/i18n.ts). */
export interface PageCatalogs {
  /** The languages with a catalog (discovery's `ui_locales_supported`). */
  readonly locales: string[]
  /** The best language for `ui_locales`, then `Accept-Language`, then English. */
  pick (uiLocales?: readonly string[], acceptLanguage?: string): string
  /** A message in `locale` (English when the catalog lacks it), with `{name}` placeholders filled. */
  t (locale: string, key: string, vars?: Readonly<Record<string, string | number>>): string
  has (locale: string, key: string): boolean
}

/** How one page is rendered: its language and where its form may post or redirect to. */
export interface PageRenderOptions {
  locale: string
  /** Origins a form may post or redirect to (CSP `form-action`), besides 'self'. */
  formTargets?: readonly string[]
  /**
   * A page that runs our scripts (the passkey pages): the folder they are served from, the only
   * `script-src` (and the page may fetch from its own origin, `connect-src 'self'`). Never inline.
   */
  scriptSource?: string
  /** Origins of images the page shows besides the brand's (the account page's client logos), CSP `img-src`. */
  imageSources?: readonly string[]
}

/**
 * The provider's pages (`ctx.pages`, http/pages/renderer.ts, made once at register): our
 * templates or the host's, with the brand and catalogs, sent with the headers every page gets.
 */
export interface ProviderPages {
  readonly catalogs: PageCatalogs
  send (reply: FastifyReply, page: PageName, data: Record<string, unknown>, options: PageRenderOptions): Promise<FastifyReply>
}
