import { createHash, randomBytes } from 'node:crypto'
import type { HttpClient, HttpResponse } from './http.js'
import { form } from './http.js'
import { basicAuth, webClient } from './config.js'
import { benchPassword } from '../users.js'

/**
 * A simulated browser plus its relying party: keeps the provider's cookies, fills the login and
 * consent forms, and redeems the code at the token endpoint. Every step checks that the response
 * is the real success (status, Location, code, state, iss, tokens) and throws otherwise, so a
 * flow counts only when it really worked.
 */
/** The relying party a browser signs into (the bench's static web client by default). */
export interface FlowClient {
  client_id: string
  client_secret: string
  redirect_uri: string
  scope: string
}

export class BenchBrowser {
  readonly #cookies = new Map<string, string>()
  readonly #http: HttpClient
  readonly #issuer: string
  readonly #client: FlowClient
  readonly #password: string
  readonly #authorizePath: string
  readonly #silentStatus: number
  readonly username: string

  /**
   * `issuer` is what the `iss` of the authorization response must be (RFC 9207) and where the
   * provider's own redirects point; `http` connects to the server. `authorizePath` and
   * `silentStatus` (the status of an SSO answer) default to ours: node-oidc-provider's are
   * `/auth` and 303.
   */
  constructor (http: HttpClient, issuer: string, username: string, options: { client?: FlowClient, password?: string, authorizePath?: string, silentStatus?: number } = {}) {
    this.#http = http
    this.#issuer = issuer
    this.username = username
    this.#client = options.client ?? webClient
    this.#password = options.password ?? benchPassword
    this.#authorizePath = options.authorizePath ?? '/authorize'
    this.#silentStatus = options.silentStatus ?? 302
  }

  get client (): FlowClient { return this.#client }

  #cookieHeader (): Record<string, string> {
    if (this.#cookies.size === 0) return {}
    return { cookie: [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ') }
  }

  #remember (response: HttpResponse): void {
    for (const line of response.headers['set-cookie'] ?? []) {
      const pair = line.split(';', 1)[0]!
      const index = pair.indexOf('=')
      const name = pair.slice(0, index).trim()
      const value = pair.slice(index + 1).trim()
      if (value === '' || /max-age=0/i.test(line)) this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
  }

  async #get (path: string): Promise<HttpResponse> {
    const response = await this.#http.request('GET', path, this.#cookieHeader())
    this.#remember(response)
    return response
  }

  async #post (path: string, fields: Record<string, string>): Promise<HttpResponse> {
    const { body, headers } = form(fields)
    const response = await this.#http.request('POST', path, { ...headers, ...this.#cookieHeader() }, body)
    this.#remember(response)
    return response
  }

  /** The authorization request of a code flow with PKCE (S256), state and nonce. */
  #authorizationRequest (): { path: string, verifier: string, state: string } {
    const verifier = randomBytes(32).toString('base64url')
    const state = randomBytes(12).toString('base64url')
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: this.#client.client_id,
      redirect_uri: this.#client.redirect_uri,
      scope: this.#client.scope,
      state,
      nonce: randomBytes(12).toString('base64url'),
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    })
    return { path: `${this.#authorizePath}?${query}`, verifier, state }
  }

  /** The redirect to the client: a 302/303 to the redirect_uri with `code`, our `state`, and `iss` (RFC 9207). */
  #codeFrom (response: HttpResponse, status: number, state: string): string {
    if (response.status !== status) throw new Error(`expected ${status} to the client, got ${response.status}: ${response.body.slice(0, 200)}`)
    const location = new URL(String(response.headers.location))
    const code = location.searchParams.get('code')
    if (location.origin + location.pathname !== this.#client.redirect_uri || code === null ||
      location.searchParams.get('state') !== state || location.searchParams.get('iss') !== this.#issuer) {
      throw new Error(`not a successful authorization response: ${location.href.slice(0, 200)}`)
    }
    return code
  }

  /**
   * The full browser flow, as a browser walks it: authorize → login page → POST credentials →
   * (the offer to add a passkey after a password sign-in: "Not now", as test/helpers' HttpBrowser
   * answers it) → (the consent page, unless consent is remembered: approve) → the redirect to the
   * client with the code. Every redirect inside the provider is followed with the cookies.
   */
  async signIn (): Promise<{ code: string, verifier: string, requests: number, pages: string[] }> {
    const { path, verifier, state } = this.#authorizationRequest()
    let response = await this.#get(path)
    let requests = 1
    const pages: string[] = []
    for (let step = 0; step < 10; step++) {
      if (response.status === 302 || response.status === 303) {
        const location = new URL(String(response.headers.location), this.#issuer)
        if (location.origin !== new URL(this.#issuer).origin) {
          return { code: this.#codeFrom(response, response.status, state), verifier, requests, pages }
        }
        response = await this.#get(location.pathname + location.search)
        requests++
        continue
      }
      if (response.status !== 200) throw new Error(`expected a page or a redirect, got ${response.status}: ${response.body.slice(0, 200)}`)
      const fields = { interaction_id: this.#field(response.body, 'interaction_id'), csrf_token: this.#field(response.body, 'csrf_token') }
      const action = /action="([^"]+)"/.exec(response.body)?.[1]
      if (action === undefined) throw new Error(`a page without a form: ${response.body.slice(0, 200)}`)
      const target = new URL(action.replaceAll('&amp;', '&'), this.#issuer)
      if (response.body.includes('name="ticket"')) {
        pages.push('passkey-offer')
        response = await this.#post(target.pathname + target.search, { ...fields, ticket: this.#field(response.body, 'ticket'), response: '' })
      } else if (response.body.includes('name="password"')) {
        pages.push('login')
        response = await this.#post(target.pathname + target.search, { ...fields, username: this.username, password: this.#password })
      } else {
        pages.push('consent')
        response = await this.#post(target.pathname + target.search, { ...fields, decision: 'approve' })
      }
      requests++
    }
    throw new Error(`the sign-in did not reach the client (pages: ${pages.join(', ')})`)
  }

  #field (html: string, name: string): string {
    const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)
    if (match === null) throw new Error(`no ${name} on the page`)
    return match[1]!
  }

  /** The sign-in of a user who has not consented yet: the consent page must be shown. */
  async loginAndConsent (): Promise<{ code: string, verifier: string }> {
    const result = await this.signIn()
    if (!result.pages.includes('consent')) throw new Error(`expected the consent page, saw ${result.pages.join(', ')}`)
    return result
  }

  /** A login of a user who may have consented already. */
  async login (): Promise<{ code: string, verifier: string }> {
    return await this.signIn()
  }

  /** Whether the browser holds a login session cookie (an SSO authorization may answer at once). */
  hasSession (cookieName = 'oidc_session'): boolean {
    return this.#cookies.has(cookieName)
  }

  /** GET with this browser's cookies, for the other browser-facing endpoints (logout). */
  async get (path: string): Promise<HttpResponse> {
    return await this.#get(path)
  }

  /** SSO: signed in and consented already, so /authorize answers at once with a 302 and a code. */
  async silentAuthorize (): Promise<{ code: string, verifier: string }> {
    const { path, verifier, state } = this.#authorizationRequest()
    return { code: this.#codeFrom(await this.#get(path), this.#silentStatus, state), verifier }
  }

  /** Forgets the cookies: the next flow starts as a new browser. */
  reset (): void {
    this.#cookies.clear()
  }
}

export interface TokenSet {
  access_token: string
  id_token: string
  refresh_token: string
}

/** The relying party's code redemption (RFC 6749 §4.1.3, client_secret_basic, PKCE verifier). */
export async function redeemCode (http: HttpClient, code: string, verifier: string, client: FlowClient = webClient): Promise<TokenSet> {
  const { body, headers } = form({ grant_type: 'authorization_code', code, redirect_uri: client.redirect_uri, code_verifier: verifier })
  const response = await http.request('POST', '/token', { ...headers, authorization: basicAuth(client) }, body)
  if (response.status !== 200) throw new Error(`token endpoint answered ${response.status}: ${response.body.slice(0, 200)}`)
  const tokens = JSON.parse(response.body) as Partial<TokenSet> & { token_type?: string }
  if (tokens.token_type !== 'Bearer' || typeof tokens.access_token !== 'string' ||
    typeof tokens.id_token !== 'string' || typeof tokens.refresh_token !== 'string') {
    throw new Error(`token response without access_token, id_token and refresh_token: ${response.body.slice(0, 200)}`)
  }
  return tokens as TokenSet
}
