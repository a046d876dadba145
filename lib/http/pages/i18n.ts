import Negotiator from 'negotiator'
import { en } from './messages-en.js'
import { de } from './messages-de.js'
import { fr } from './messages-fr.js'
import type { Messages, PageCatalogs } from '../../contracts/pages.js'

/** The catalogs shipped with the provider. */
export const builtInCatalogs: Readonly<Record<string, Messages>> = { en, de, fr }

const localeTag = /^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/

/**
 * The message catalogs of the pages: the shipped ones merged with the host's (`pages.messages`),
 * key by key, so a host can add a language or change one text. English fills any gap.
 */
export class Catalogs implements PageCatalogs {
  readonly #catalogs = new Map<string, Messages>()
  /** Discovery `ui_locales_supported`: the languages with a catalog, English first. */
  readonly locales: string[]

  constructor (extra: Readonly<Record<string, Messages>> = {}) {
    for (const [locale, messages] of Object.entries(builtInCatalogs)) this.#catalogs.set(locale.toLowerCase(), { ...messages })
    for (const [locale, messages] of Object.entries(extra)) {
      if (!localeTag.test(locale)) throw new TypeError(`"${locale}" is not a BCP 47 language tag`)
      if (typeof messages !== 'object' || messages === null) throw new TypeError(`"${locale}" must be an object of messages`)
      for (const [key, text] of Object.entries(messages)) {
        if (typeof text !== 'string') throw new TypeError(`"${locale}"."${key}" must be a string`)
      }
      const key = locale.toLowerCase()
      this.#catalogs.set(key, { ...this.#catalogs.get(key), ...messages })
    }
    this.locales = ['en', ...[...this.#catalogs.keys()].filter((locale) => locale !== 'en')]
  }

  /**
   * The page language: the first `ui_locales` entry with a catalog (OIDC Core §3.1.2.1; an
   * exact tag, else its primary language), then the best `Accept-Language` match (RFC 9110
   * §12.5.4), then English.
   */
  pick (uiLocales: readonly string[] = [], acceptLanguage?: string): string {
    for (const wanted of uiLocales) {
      const tag = wanted.toLowerCase()
      if (this.#catalogs.has(tag)) return tag
      const primary = tag.split('-')[0]!
      if (this.#catalogs.has(primary)) return primary
    }
    if (acceptLanguage !== undefined && acceptLanguage !== '') {
      const negotiated = new Negotiator({ headers: { 'accept-language': acceptLanguage } }).language(this.locales)
      if (negotiated !== undefined) return negotiated
      // "de-AT" is not a catalog, "de" is: try each wanted language's primary subtag.
      for (const wanted of new Negotiator({ headers: { 'accept-language': acceptLanguage } }).languages()) {
        const primary = wanted.toLowerCase().split('-')[0]!
        if (this.#catalogs.has(primary)) return primary
      }
    }
    return 'en'
  }

  /** The text of `key` in `locale` (English when the catalog lacks it), placeholders filled. */
  t (locale: string, key: string, vars: Readonly<Record<string, string | number>> = {}): string {
    const text = this.#catalogs.get(locale)?.[key] ?? this.#catalogs.get('en')?.[key] ?? key
    return text.replace(/\{(\w+)\}/g, (match, name: string) => vars[name] === undefined ? match : String(vars[name]))
  }

  /** Whether `key` exists in some catalog (for scope descriptions that may be missing). */
  has (locale: string, key: string): boolean {
    return this.#catalogs.get(locale)?.[key] !== undefined || this.#catalogs.get('en')?.[key] !== undefined
  }
}
