/**
 * RFC 8707 §2: a resource indicator is an absolute URI without a fragment. Returns the URI in
 * the form resources are compared in, or undefined when it is not a valid indicator.
 *
 * Real clients spell the same resource differently (the MCP SDK sends `https://mcp.example.com/`
 * for an origin, others omit the slash), so both sides of every comparison are normalised the
 * way RFC 3986 §6.2.2–6.2.3 allows: scheme and host lower-cased, the scheme's default port
 * dropped, an empty path read as `/`, dot segments removed. The WHATWG URL parser does exactly
 * that for http(s).
 *
 * @example
 * normalizeResource('HTTPS://API.example:443') // 'https://api.example/'
 * normalizeResource('https://api.example/#x')  // undefined (fragment)
 */
export function normalizeResource (value: string): string | undefined {
  // RFC 3986 §4.3: an absolute URI has no fragment; a bare '#' is a fragment too.
  if (value === '' || value.length > 2048 || value.includes('#')) return undefined
  // Whitespace and controls are not URI characters (RFC 3986 §2); URL() would strip some silently.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f]/.test(value)) return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  // new URL() also accepts scheme-relative garbage like 'a:'; an indicator needs an authority
  // or at least a path (e.g. a URN).
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    if (url.hostname === '' || url.username !== '' || url.password !== '') return undefined
  } else if (url.pathname === '') {
    return undefined
  }
  return url.href
}
