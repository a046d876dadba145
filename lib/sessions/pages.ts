import type { FastifyReply } from 'fastify'
import { formTargetOf } from '../http/pages/render.js'
import type { ProviderPages } from '../contracts/pages.js'

/*
 * The two logout pages, rendered by the page system like login and consent: the host's brand,
 * the `logout.*` keys of the message catalogs, and host templates (`pages.templates.logout`,
 * `pages.templates['logged-out']`). Variables: see docs/pages.md, "Branding and languages".
 * They take the provider's renderer rather than `reply.oidcPages`: the signed-out page may be
 * the answer to a host's route (a logout finished on the host's own page), outside our context.
 */

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
export async function renderLogoutConfirmation (pages: ProviderPages, reply: FastifyReply, view: LogoutConfirmationView): Promise<FastifyReply> {
  const { locale, postLogoutRedirectUri, ...vars } = view
  const formTargets = postLogoutRedirectUri === undefined ? [] : [formTargetOf(postLogoutRedirectUri)]
  return await pages.send(reply, 'logout', { locale, ...vars, title: pages.catalogs.t(locale, 'logout.title') }, { locale, formTargets })
}

/** The page shown when there is no post_logout_redirect_uri to go back to (`logged-out`). */
export async function renderLoggedOut (pages: ProviderPages, reply: FastifyReply, outcome: 'signed_out' | 'stayed', locale: string): Promise<FastifyReply> {
  return await pages.send(reply, 'logged-out', {
    locale,
    outcome,
    title: pages.catalogs.t(locale, outcome === 'stayed' ? 'logout.stayedTitle' : 'logout.signedOutTitle'),
  }, { locale, formTargets: [] })
}
