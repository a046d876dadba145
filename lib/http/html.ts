/**
 * HTML escaping for host pages: the one function a host needs when it writes its own login,
 * consent or logout page with template literals instead of a template engine.
 */

const htmlEntities: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/**
 * Escapes a value for HTML text and for a quoted attribute value (`"…"` or `'…'`): `&`, `<`,
 * `>`, `"` and `'` become character references, the five characters OWASP's XSS prevention
 * cheat sheet lists for both contexts. Escape every value a client or user chose (`client_name`,
 * a username, an error description) before it goes into a page; a registered client's name is
 * attacker-controlled when registration is open.
 *
 * It is not enough for an unquoted attribute, a URL attribute (`href`, `src`: check the scheme
 * too), inside `<script>` or `<style>`: keep values out of those places.
 *
 * `null` and `undefined` become the empty string, so an optional field can be passed as is.
 *
 * @example
 * ```ts
 * import { escapeHtml } from 'fastify-oidc-provider'
 *
 * const clientName = '<img src=x onerror=alert(1)>'
 * const html = `<p><strong>${escapeHtml(clientName)}</strong> asks to sign you out.</p>`
 * // <p><strong>&lt;img src=x onerror=alert(1)&gt;</strong> asks to sign you out.</p>
 * ```
 */
export function escapeHtml (value: string | number | null | undefined): string {
  if (value === null || value === undefined) return ''
  return String(value).replace(/[&<>"']/g, (char) => htmlEntities[char] ?? char)
}
