import type { Interaction, InteractionOptions, LogoutInteraction } from '../contracts/interactions.js'
import { invalidOption } from '../contracts/errors.js'

/*
 * The host's own pages must be where the browser sends the provider's cookies (lib/http/cookies.ts:
 * host-only, Path = the issuer's path): otherwise the page cannot tell the browser that started
 * the request, and every login fails with "started in another browser". The path is not widened
 * to fit the page: the login-session cookie would then go to every route of the origin (and two
 * providers on one origin would share it); moving the page under the issuer's path is one line.
 */

/** A sample interaction to ask the host's URL functions where their pages are, at `register`. */
const probeInteraction: Interaction = {
  id: 'register-time-probe',
  prompt: 'login',
  client: { clientId: 'register-time-probe' },
  scopes: [],
  prompts: [],
  uiLocales: [],
  locale: 'en',
  acrValues: [],
  csrfToken: 'register-time-probe',
  expiresAt: 0,
}

const probeLogout: LogoutInteraction = {
  id: 'register-time-probe',
  prompt: 'logout',
  uiLocales: [],
  locale: 'en',
  csrfToken: 'register-time-probe',
  expiresAt: 0,
}

/** RFC 6265 §5.1.4: whether a request path is in a cookie's path. */
export function pathMatches (requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true
  if (!requestPath.startsWith(cookiePath)) return false
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/'
}

/**
 * Fails `register` when `interactions.url` or `interactions.logoutUrl` sends the browser where the
 * provider's cookies (scoped to `cookiePath` on the issuer's origin) are not sent, naming both.
 * The host's functions are called once with a sample interaction; one that throws on it is left
 * to run time.
 */
export function checkHostPagePaths (issuer: string, cookiePath: string, interactions: InteractionOptions | undefined): void {
  const pages: Array<[string, (() => string) | undefined]> = [
    ['interactions.url', interactions?.url === undefined ? undefined : () => interactions.url!(probeInteraction)],
    ['interactions.logoutUrl', interactions?.logoutUrl === undefined ? undefined : () => interactions.logoutUrl!(probeLogout)],
  ]
  const issuerOrigin = new URL(issuer).origin
  for (const [option, locate] of pages) {
    if (locate === undefined) continue
    let page: URL
    let given: string
    try {
      given = locate()
      page = new URL(given, issuer)
    } catch {
      continue
    }
    if (page.origin !== issuerOrigin) {
      throw invalidOption(option, `sends the browser to "${given}", on another origin than the issuer (${issuerOrigin}), where the provider's cookies are not sent; serve the page on ${issuerOrigin}${cookiePath === '/' ? '' : ` under ${cookiePath}`}`)
    }
    if (!pathMatches(page.pathname, cookiePath)) {
      throw invalidOption(option, `sends the browser to "${page.pathname}", outside "${cookiePath}", the path the provider's cookies are scoped to (the issuer's path), so the browser would not send them and every login would fail as "started in another browser"; serve the page under ${cookiePath} (e.g. ${cookiePath.replace(/\/$/, '')}${page.pathname})`)
    }
  }
}
