import type { FastifyReply } from 'fastify'
import { createHash } from 'node:crypto'

/*
 * An HTML page that POSTs one form as soon as it loads: the OAuth 2.0 Form Post Response Mode
 * (§2: "an HTML form ... auto-submitted in the User Agent") and the provider's own re-post of a
 * cross-site POST /authorize (lib/interactions/authorize.ts). No template engine: the page is
 * a handful of tags, each value escaped here.
 */

/**
 * The one script: submits the page's form. Called through the prototype, so a field named
 * `submit` (which would shadow `form.submit`) cannot break it. Constant, so its CSP hash is too.
 */
const submitScript = 'HTMLFormElement.prototype.submit.call(document.forms[0])'
const scriptHash = `'sha256-${createHash('sha256').update(submitScript).digest('base64')}'`

/**
 * The page's headers. `script-src` allows exactly the submit script (by hash, so no nonce per
 * page), and nothing else runs or loads (`default-src 'none'`). No `form-action`: the target is
 * the redirect URI the client registered, and Chromium applies `form-action` to the redirects
 * that follow the POST, which would break a client that redirects onward after its callback.
 */
const pageHeaders = {
  'content-security-policy': `default-src 'none'; script-src ${scriptHash}; frame-ancestors 'none'; base-uri 'none'`,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // Form Post Response Mode §5 (and RFC 6749 §10.12's concern): nothing here may be cached.
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'content-type': 'text/html; charset=utf-8',
} as const

const htmlEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Escapes text for an HTML attribute value or element content. */
export function escapeHtml (value: string): string {
  return value.replace(/[&<>"']/g, (character) => htmlEscapes[character]!)
}

/** Form fields by name: a value, several (a repeated parameter, e.g. RFC 8707 `resource`), or none. */
export type FormFields = Record<string, string | readonly string[] | undefined>

/**
 * The page that POSTs `fields` to `action`; without JavaScript, its `<noscript>` button does.
 * Parameters whose value is undefined are left out.
 */
export function autoSubmitFormHtml (action: string, fields: FormFields): string {
  let inputs = ''
  for (const name in fields) {
    for (const value of [fields[name] ?? []].flat()) {
      inputs += `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`
    }
  }
  return '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">' +
    '<title>Continue</title></head><body>' +
    `<form method="post" action="${escapeHtml(action)}">${inputs}` +
    '<noscript><p>JavaScript is off: press Continue to go on.</p><button type="submit">Continue</button></noscript>' +
    `</form><script>${submitScript}</script></body></html>`
}

/**
 * Sends the auto-submitting page (200, `no-store`, the hashed-script CSP).
 *
 * @example
 * return sendAutoSubmitForm(reply, 'https://rp.example/cb', { code, state, iss })
 */
export function sendAutoSubmitForm (reply: FastifyReply, action: string, fields: FormFields): FastifyReply {
  return reply.code(200).headers(pageHeaders).send(autoSubmitFormHtml(action, fields))
}
