import type { FastifyReply } from 'fastify'
import { randomBytes } from 'node:crypto'

declare module 'fastify' {
  interface FastifyReply {
    /** @fastify/view under a private name, so the host's `reply.view` is untouched. */
    oidcView (page: string, data: object): Promise<FastifyReply>
  }
}

export type PageName = 'login' | 'consent' | 'error'

/**
 * Renders one of the provider's pages with the headers every page gets: a strict CSP (inline
 * style allowed only by a per-response nonce; no scripts at all), no framing, no sniffing, no
 * referrer, no caching. `formTargets` are the origins a form may post or redirect to: Chromium
 * applies `form-action` to the redirect that follows a form post, so the client's redirect_uri
 * origin must be listed for the consent form's final redirect to go through.
 */
export async function renderPage (
  reply: FastifyReply,
  page: PageName,
  data: Record<string, unknown>,
  formTargets: readonly string[] = []
): Promise<FastifyReply> {
  const nonce = randomBytes(16).toString('base64')
  const formAction = ["'self'", ...formTargets].join(' ')
  reply.headers({
    'content-security-policy': `default-src 'none'; style-src 'nonce-${nonce}'; img-src 'self' data:; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    // same-origin, not no-referrer: under no-referrer a browser posts our own forms with
    // `Origin: null`, which the cross-site form guard cannot tell from a sandboxed attacker.
    'referrer-policy': 'same-origin',
    'cache-control': 'no-store',
    pragma: 'no-cache',
  })
  reply.type('text/html; charset=utf-8')
  return reply.oidcView(page, { ...data, nonce })
}

/** The CSP source for a redirect URI: its origin, or its scheme for private-use schemes. */
export function formTargetOf (redirectUri: string): string {
  const url = new URL(redirectUri)
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol
}
