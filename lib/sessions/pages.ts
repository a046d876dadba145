import type { FastifyReply } from 'fastify'
import { formTargetOf, renderPage } from '../pages.js'

/*
 * The two logout pages, rendered by the page system like login and consent: the host's brand,
 * the `logout.*` keys of the message catalogs, and host templates (`pages.templates.logout`,
 * `pages.templates['logged-out']`). Variables: see the README's "Branding and languages" table.
 */

/**
 * The language of the logout pages: the request's `ui_locales` (RP-Initiated Logout 1.0 §2,
 * "End-User's preferred languages and scripts for the user interface"), then `Accept-Language`,
 * then English; the same choice as the login page (Catalogs.pick).
 */
export function logoutLocale (reply: FastifyReply, uiLocales: readonly string[]): string {
  const accept = reply.request.headers['accept-language']
  return reply.oidcPages.catalogs.pick(uiLocales, typeof accept === 'string' ? accept.slice(0, 500) : undefined)
}

export interface LogoutConfirmationView {
  locale: string
  /** The relying party's name when the request named one (client_id or id_token_hint). */
  clientName: string | undefined
  action: string
  logoutId: string
  csrfToken: string
  /** The verified post_logout_redirect_uri: the form's answer redirects there (CSP form-action). */
  postLogoutRedirectUri: string | undefined
}

/** The "Sign out?" page (`logout`). */
export async function renderLogoutConfirmation (reply: FastifyReply, view: LogoutConfirmationView): Promise<FastifyReply> {
  const { locale, postLogoutRedirectUri, ...vars } = view
  return await renderPage(reply, 'logout', {
    locale,
    ...vars,
    title: reply.oidcPages.catalogs.t(locale, 'logout.title'),
  }, postLogoutRedirectUri === undefined ? [] : [formTargetOf(postLogoutRedirectUri)])
}

/** The page shown when there is no post_logout_redirect_uri to go back to (`logged-out`). */
export async function renderLoggedOut (reply: FastifyReply, outcome: 'signed_out' | 'stayed', locale: string): Promise<FastifyReply> {
  return await renderPage(reply, 'logged-out', {
    locale,
    outcome,
    title: reply.oidcPages.catalogs.t(locale, outcome === 'stayed' ? 'logout.stayedTitle' : 'logout.signedOutTitle'),
  })
}
