import type { OAuthError } from '../contracts/errors.js'
import type { ProviderContext } from '../contracts/context.js'
import type { AuthorizationRequest } from './types.js'

/**
 * The authorization response URL (RFC 6749 §4.1.2): parameters appended to the registered
 * redirect_uri's own query, `state` echoed byte-exact, and `iss` always (RFC 9207 §2).
 *
 * The result is what `new URL(redirectUri)` plus `searchParams.append` give (the WHATWG URL
 * serializer, which also re-serializes the redirect URI's own query), built from strings: the
 * URL object and its query list cost more than the rest of the redirect. A value that is not
 * well-formed UTF-16 (a lone surrogate, which URLSearchParams replaces by U+FFFD) takes the URL
 * path itself.
 */
export function responseUrl (redirectUri: string, params: Record<string, string | undefined>): string {
  let query = ''
  try {
    for (const name in params) {
      const value = params[name]
      if (value !== undefined) query += `${query === '' ? '' : '&'}${formEncode(name)}=${formEncode(value)}`
    }
  } catch {
    return responseUrlSlow(redirectUri, params)
  }
  const parts = redirectParts(redirectUri)
  if (query === '') return parts.href
  return `${parts.head}?${parts.query === '' ? '' : `${parts.query}&`}${query}${parts.hash}`
}

function responseUrlSlow (redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri)
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.append(name, value)
  }
  return url.href
}

/**
 * application/x-www-form-urlencoded serialization of one name or value (WHATWG URL §5.2), as
 * URLSearchParams does it: only ASCII alphanumerics and `*-._` stay, space becomes `+`.
 * encodeURIComponent also keeps `!'()~`, so those are escaped after. Throws URIError on a lone
 * surrogate.
 */
function formEncode (value: string): string {
  const encoded = encodeURIComponent(value)
  return unsafeAfterEncode.test(encoded) ? encoded.replace(unsafeAfterEncodeAll, formEscape) : encoded
}

const unsafeAfterEncode = /%20|[!'()~]/
const unsafeAfterEncodeAll = /%20|[!'()~]/g
const formEscape = (match: string): string => match === '%20' ? '+' : `%${match.charCodeAt(0).toString(16).toUpperCase()}`

interface RedirectParts {
  /** The serialized URL without query and fragment. */
  head: string
  /** Its own query, re-serialized as searchParams does on the first append ('' for none). */
  query: string
  /** '#fragment' ('#' for an empty one) or ''. */
  hash: string
  /** The serialized URL as is (nothing appended). */
  href: string
}

/**
 * Parsed redirect URIs, by the string registered: a client has a handful, but with dynamic
 * registration the set is open, so the map is dropped whole when it fills.
 */
const parsedRedirects = new Map<string, RedirectParts>()
const maxParsedRedirects = 1000

function redirectParts (redirectUri: string): RedirectParts {
  const cached = parsedRedirects.get(redirectUri)
  if (cached !== undefined) return cached
  const url = new URL(redirectUri)
  const href = url.href
  // In a serialized URL, '?' first appears where the query starts and '#' where the fragment
  // does (both are percent-encoded anywhere else), even when either is empty ('...?', '...#').
  const hashAt = href.indexOf('#')
  const beforeHash = hashAt === -1 ? href : href.slice(0, hashAt)
  const queryAt = beforeHash.indexOf('?')
  const head = queryAt === -1 ? beforeHash : beforeHash.slice(0, queryAt)
  const hash = hashAt === -1 ? '' : href.slice(hashAt)
  const parts = { head, query: url.searchParams.toString(), hash, href }
  if (parsedRedirects.size >= maxParsedRedirects) parsedRedirects.clear()
  parsedRedirects.set(redirectUri, parts)
  return parts
}

export function successUrl (ctx: ProviderContext, request: AuthorizationRequest, code: string): string {
  return responseUrl(request.redirectUri, { code, state: request.state, iss: ctx.issuer })
}

/** RFC 6749 §4.1.2.1: the error response, sent only to a redirect_uri that was validated. */
export function errorUrl (ctx: ProviderContext, redirectUri: string, state: string | undefined, error: OAuthError): string {
  return responseUrl(redirectUri, {
    error: error.error,
    error_description: error.error_description,
    state,
    iss: ctx.issuer,
  })
}
