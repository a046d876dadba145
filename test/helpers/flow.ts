import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { randomBytes } from 'node:crypto'
import { s256Challenge } from '../../lib/tokens/pkce.js'
import { authorizationResponse, type AuthorizationResponse } from './form-post.js'

/** A minimal cookie jar for driving the browser pages through app.inject. */
export class CookieJar {
  readonly cookies = new Map<string, string>()

  header (): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }

  update (res: LightMyRequestResponse): void {
    for (const cookie of res.cookies) {
      if (cookie.value === '' || (cookie.maxAge !== undefined && cookie.maxAge <= 0)) this.cookies.delete(cookie.name)
      else this.cookies.set(cookie.name, cookie.value)
    }
  }
}

export function pkcePair (): { verifier: string, challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: s256Challenge(verifier) }
}

/** Reads a hidden input's value from a rendered page. */
export function hiddenField (html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)
  if (match === null) throw new Error(`no hidden field ${name} in page`)
  return match[1]!
}

export interface FlowOptions {
  clientId: string
  redirectUri: string
  scope?: string
  state?: string
  nonce?: string
  username?: string
  password?: string
  /** Approve (default) or deny on the consent page, if it is shown. */
  consent?: 'approve' | 'deny'
  jar?: CookieJar
  extra?: Record<string, string>
  prefix?: string
  /** RFC 8707 `resource` parameters (repeated). */
  resources?: string[]
  /** false: no code_challenge (a legacy client allowed to rely on a nonce, lib/tokens/pkce.ts). */
  pkce?: boolean
}

export interface FlowResult {
  /** The final redirect to the client (for form_post: the form's action). */
  location: URL
  code: string | null
  /** The response parameters, whatever the response mode (query, fragment or form_post). */
  response: AuthorizationResponse
  verifier: string
  jar: CookieJar
  sawLogin: boolean
  sawConsent: boolean
}

function form (fields: Record<string, string>): { payload: string, headers: Record<string, string> } {
  return { payload: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } }
}

/**
 * Drives /authorize → login → consent → redirect with app.inject, like a browser would
 * (following the provider's own redirects and keeping cookies).
 */
export async function runCodeFlow (app: FastifyInstance, options: FlowOptions): Promise<FlowResult> {
  const jar = options.jar ?? new CookieJar()
  const prefix = options.prefix ?? ''
  const { verifier, challenge } = pkcePair()
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: options.clientId,
    redirect_uri: options.redirectUri,
    scope: options.scope ?? 'openid profile email',
    ...(options.pkce === false ? {} : { code_challenge: challenge, code_challenge_method: 'S256' }),
    ...(options.state === undefined ? {} : { state: options.state }),
    ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
    ...options.extra,
  })
  for (const resource of options.resources ?? []) query.append('resource', resource)
  let res = await app.inject({ url: `${prefix}/authorize?${query}`, headers: { cookie: jar.header() } })
  jar.update(res)
  let sawLogin = false
  let sawConsent = false
  for (let step = 0; step < 5; step++) {
    if (res.statusCode === 302 || res.statusCode === 303) {
      const location = new URL(res.headers.location as string, 'http://provider.test')
      if (location.host === 'provider.test') {
        res = await app.inject({ url: location.pathname + location.search, headers: { cookie: jar.header() } })
        jar.update(res)
        continue
      }
      const response = authorizationResponse(res)
      return { location, code: response.params.code ?? null, response, verifier, jar, sawLogin, sawConsent }
    }
    if (res.statusCode !== 200) throw new Error(`unexpected ${res.statusCode}: ${res.body.slice(0, 300)}`)
    const html = res.body
    if (!html.includes('name="interaction_id"')) {
      // Not one of our pages: the form_post response (OAuth 2.0 Form Post Response Mode).
      const response = authorizationResponse(res)
      return { location: new URL(response.target), code: response.params.code ?? null, response, verifier, jar, sawLogin, sawConsent }
    }
    const fields = { interaction_id: hiddenField(html, 'interaction_id'), csrf_token: hiddenField(html, 'csrf_token') }
    if (html.includes('name="password"')) {
      sawLogin = true
      res = await app.inject({
        method: 'POST',
        url: `${prefix}/authorize`,
        ...form({ ...fields, username: options.username ?? 'demo', password: options.password ?? 'demo' }),
        headers: { ...form({}).headers, cookie: jar.header() },
      })
    } else {
      sawConsent = true
      res = await app.inject({
        method: 'POST',
        url: `${prefix}/consent`,
        ...form({ ...fields, decision: options.consent ?? 'approve' }),
        headers: { ...form({}).headers, cookie: jar.header() },
      })
    }
    jar.update(res)
  }
  throw new Error('the flow did not end in a redirect to the client')
}
