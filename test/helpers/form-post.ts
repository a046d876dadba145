/*
 * Reading authorization responses in every response mode, for tests that run the same case in
 * `query` and `form_post` (OAuth 2.0 Form Post Response Mode) or `fragment`.
 *
 * A form_post response is a 200 HTML page holding one `<form method="post" action="…">` with a
 * hidden `<input>` per response parameter, submitted by a hashed script (or its `<noscript>`
 * button). `parseFormPost` reads it back the way a browser would submit it: the action and the
 * fields, HTML entities decoded.
 */

/** The form a form_post page submits: where, and what. */
export interface AutoSubmitForm {
  action: string
  fields: Record<string, string>
}

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

/** Decodes the HTML character references an attribute value may hold (named, decimal, hex). */
export function decodeHtml (value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (match, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10)
      return String.fromCodePoint(code)
    }
    return entities[ref.toLowerCase()] ?? match
  })
}

/**
 * The action and hidden fields of an auto-submitting form page; throws when the page holds no
 * POST form, more than one, or a field twice (a response parameter appears once, RFC 6749 §3.1).
 *
 * @example
 * const { action, fields } = parseFormPost(res.body)
 * t.equal(action, REDIRECT_URI); t.ok(fields.code)
 */
export function parseFormPost (html: string): AutoSubmitForm {
  const forms = [...html.matchAll(/<form\b([^>]*)>/gi)]
  if (forms.length !== 1) throw new Error(`expected one form, found ${forms.length}`)
  const attributes = forms[0]![1]!
  if (!/\bmethod="post"/i.test(attributes)) throw new Error('the form is not method="post"')
  const action = /\baction="([^"]*)"/i.exec(attributes)
  if (action === null) throw new Error('the form has no action')
  const fields: Record<string, string> = {}
  for (const input of html.matchAll(/<input\b([^>]*)>/gi)) {
    const name = /\bname="([^"]*)"/i.exec(input[1]!)
    const value = /\bvalue="([^"]*)"/i.exec(input[1]!)
    if (name === null) continue
    const key = decodeHtml(name[1]!)
    if (key in fields) throw new Error(`field ${key} appears twice`)
    fields[key] = decodeHtml(value?.[1] ?? '')
  }
  return { action: decodeHtml(action[1]!), fields }
}

/** An authorization response as the client receives it, whatever the mode. */
export interface AuthorizationResponse {
  mode: 'query' | 'fragment' | 'form_post'
  /** The redirect URI the response went to, without the response parameters. */
  target: string
  params: Record<string, string>
}

/** What the reading needs of a response: light-my-request's and fetch's both fit through the two readers below. */
interface RawResponse {
  status: number
  location: string | undefined
  contentType: string | undefined
  body: string
}

function read (raw: RawResponse): AuthorizationResponse {
  if ((raw.status === 302 || raw.status === 303) && raw.location !== undefined) {
    const url = new URL(raw.location)
    if (url.hash !== '' && url.hash !== '#') {
      const params = Object.fromEntries(new URLSearchParams(url.hash.slice(1)))
      url.hash = ''
      return { mode: 'fragment', target: url.href, params }
    }
    const params = Object.fromEntries(url.searchParams)
    url.search = ''
    return { mode: 'query', target: url.href, params }
  }
  if (raw.status === 200 && raw.contentType?.startsWith('text/html') === true) {
    const { action, fields } = parseFormPost(raw.body)
    return { mode: 'form_post', target: action, params: fields }
  }
  throw new Error(`not an authorization response: ${raw.status} ${raw.contentType ?? ''} ${raw.body.slice(0, 200)}`)
}

/**
 * Reads an `app.inject` answer as an authorization response (a redirect with the parameters in
 * the query or fragment, or a form_post page). Note: a query-mode `target` drops the redirect
 * URI's own query too.
 *
 * @example
 * const response = authorizationResponse(await app.inject({ url: '/authorize?...&response_mode=form_post' }))
 * t.same(response, { mode: 'form_post', target: REDIRECT_URI, params: { error: 'login_required', ... } })
 */
export function authorizationResponse (res: { statusCode: number, headers: Record<string, unknown>, body: string }): AuthorizationResponse {
  const header = (name: string): string | undefined => {
    const value = res.headers[name]
    return typeof value === 'string' ? value : undefined
  }
  return read({ status: res.statusCode, location: header('location'), contentType: header('content-type'), body: res.body })
}

/** The same for a fetch `Response` (fetched with `redirect: 'manual'`). */
export async function fetchedAuthorizationResponse (res: Response): Promise<AuthorizationResponse> {
  return read({
    status: res.status,
    location: res.headers.get('location') ?? undefined,
    contentType: res.headers.get('content-type') ?? undefined,
    body: await res.text(),
  })
}
