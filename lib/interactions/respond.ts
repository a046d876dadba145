import type { FastifyReply } from 'fastify'
import type { OAuthError } from '../contracts/errors.js'
import type { ProviderContext } from '../contracts/context.js'
import { sendAutoSubmitForm } from '../http/auto-submit-form.js'
import { BoundedCache } from '../tokens/bounded-cache.js'

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
const parsedRedirects = new BoundedCache<RedirectParts>(1000)

function redirectParts (redirectUri: string): RedirectParts {
  return parsedRedirects.memo(redirectUri, parseRedirect)
}

function parseRedirect (redirectUri: string): RedirectParts {
  const url = new URL(redirectUri)
  const href = url.href
  // In a serialized URL, '?' first appears where the query starts and '#' where the fragment
  // does (both are percent-encoded anywhere else), even when either is empty ('...?', '...#').
  const hashAt = href.indexOf('#')
  const beforeHash = hashAt === -1 ? href : href.slice(0, hashAt)
  const queryAt = beforeHash.indexOf('?')
  const head = queryAt === -1 ? beforeHash : beforeHash.slice(0, queryAt)
  const hash = hashAt === -1 ? '' : href.slice(hashAt)
  return { head, query: url.searchParams.toString(), hash, href }
}

/**
 * The response modes of the authorization endpoint: `query` (RFC 6749 §4.1.2), `fragment`
 * (OAuth 2.0 Multiple Response Type Encoding Practices §2.1) and `form_post` (OAuth 2.0 Form
 * Post Response Mode §2).
 */
export type ResponseMode = 'query' | 'fragment' | 'form_post'

/** Where an authorization response goes: the validated redirect_uri, in the mode the request asked for. */
export interface ResponseTarget {
  redirectUri: string
  responseMode: ResponseMode
  /** Echoed byte-exact (RFC 6749 §4.1.2, §4.1.2.1). */
  state?: string | undefined
}

/**
 * The one way an authorization response (success or error) leaves the provider, with `state`
 * and `iss` (RFC 9207 §2) after the response's own parameters: a redirect carrying them in
 * the query or the fragment (`status`: 302 after a GET, 303 after a form post), or the Form
 * Post Response Mode's auto-submitting form (always 200). Never cached (RFC 6749 §10.12,
 * Form Post Response Mode §5).
 *
 * @example
 * return respond(ctx, reply, { redirectUri, responseMode: 'form_post', state }, { code }, 302)
 */
export function respond (
  ctx: ProviderContext,
  reply: FastifyReply,
  target: ResponseTarget,
  params: Record<string, string | undefined>,
  status: 302 | 303
): FastifyReply {
  const all = { ...params, state: target.state, iss: ctx.issuer }
  switch (target.responseMode) {
    case 'form_post':
      return sendAutoSubmitForm(reply, target.redirectUri, all)
    case 'fragment':
      return reply.header('cache-control', 'no-store').redirect(fragmentUrl(target.redirectUri, all), status)
    case 'query':
      return reply.header('cache-control', 'no-store').redirect(responseUrl(target.redirectUri, all), status)
  }
}

/**
 * The redirect URI with the parameters as its fragment (Multiple Response Type Encoding
 * Practices §2.1: application/x-www-form-urlencoded, like the query). A registered redirect
 * URI has no fragment of its own (RFC 6749 §3.1.2).
 */
function fragmentUrl (redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri)
  const fragment = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) fragment.append(name, value)
  }
  url.hash = fragment.toString()
  return url.href
}

/** RFC 6749 §4.1.2.1: the error response, sent only to a redirect_uri that was validated. */
export function respondWithError (ctx: ProviderContext, reply: FastifyReply, target: ResponseTarget, error: OAuthError, status: 302 | 303): FastifyReply {
  return respond(ctx, reply, target, { error: error.error, error_description: error.error_description }, status)
}
