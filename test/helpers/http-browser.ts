import { hiddenField } from './flow.js'
import { parseFormPost } from './form-post.js'

/** How long one request of a test may take (fetch's own headers timeout is 300 s, tap's file limit). */
export const requestTimeoutMs = 60_000

/**
 * A tiny browser over real HTTP (fetch): keeps cookies, follows the provider's redirects,
 * fills the login form and answers the consent form, and stops at the first redirect that
 * leaves the provider (the client's redirect_uri).
 */
export class HttpBrowser {
  readonly #cookies = new Map<string, string>()
  sawLogin = false
  sawConsent = false
  /** Whether a password sign-in was followed by the offer to add a passkey (answered "Not now"). */
  sawPasskeyOffer = false

  #remember (response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const index = pair!.indexOf('=')
      const name = pair!.slice(0, index).trim()
      const value = pair!.slice(index + 1).trim()
      if (value === '' || /max-age=0/i.test(line)) this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
  }

  async #request (url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    if (this.#cookies.size > 0) headers.set('cookie', [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; '))
    // A bound far above any loaded machine's answer: a request that hangs fails here, named,
    // instead of holding its file until tap's file limit kills it without output.
    const response = await fetch(url, { signal: AbortSignal.timeout(requestTimeoutMs), ...init, headers, redirect: 'manual' })
    this.#remember(response)
    return response
  }

  /** One request with this browser's cookies (no redirect followed): for pages the helper does not fill. */
  async send (url: string, init: RequestInit = {}): Promise<Response> {
    return await this.#request(url, init)
  }

  /** Whether the browser holds a cookie (e.g. the provider's session cookie). */
  hasCookie (name: string): boolean {
    return this.#cookies.has(name)
  }

  /** Goes through login and consent; returns the URL the provider finally redirects to. */
  async authorize (authorizationUrl: URL, credentials: { username: string, password: string }, decision: 'approve' | 'deny' = 'approve'): Promise<URL> {
    const origin = authorizationUrl.origin
    let response = await this.#request(authorizationUrl.href)
    this.sawLogin = false
    this.sawConsent = false
    for (let step = 0; step < 6; step++) {
      if (response.status === 302 || response.status === 303) {
        const location = new URL(response.headers.get('location')!, origin)
        if (location.origin !== origin || !/\/(authorize|consent)$/.test(location.pathname)) return location
        response = await this.#request(location.href)
        continue
      }
      const html = await response.text()
      if (response.status !== 200) throw new Error(`unexpected ${response.status}: ${html.slice(0, 200)}`)
      const fields = { interaction_id: hiddenField(html, 'interaction_id'), csrf_token: hiddenField(html, 'csrf_token') }
      if (html.includes('name="ticket"')) {
        // The offer to add a passkey after a password sign-in: "Not now".
        this.sawPasskeyOffer = true
        const action = new URL(/action="([^"]*\/passkeys\/enrol)"/.exec(html)![1]!, origin)
        response = await this.#request(action.href, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ ...fields, ticket: hiddenField(html, 'ticket'), response: '' }).toString(),
        })
        continue
      }
      const form = html.includes('name="password"')
        ? (this.sawLogin = true, { path: '/authorize', body: { ...fields, ...credentials } })
        : (this.sawConsent = true, { path: '/consent', body: { ...fields, decision } })
      const action = new URL(/action="([^"]+)"/.exec(html)![1]!, origin)
      response = await this.#request(action.href, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form.body).toString(),
      })
    }
    throw new Error('no redirect to the client')
  }

  /**
   * Signs in at a relying party as a browser would: from `start` (the RP's protected page or
   * login route), following every redirect (RP and provider alike), filling our login and
   * consent forms, and submitting auto-submitting form pages (the form_post response mode) as
   * a browser POST with its Origin. Stops at the first page that is none of those.
   */
  async signIn (start: string, credentials: { username: string, password: string }, decision: 'approve' | 'deny' = 'approve'): Promise<{ status: number, url: string, body: string, formPosts: string[] }> {
    let url = start
    let response = await this.#request(url)
    const formPosts: string[] = []
    this.sawLogin = false
    this.sawConsent = false
    for (let step = 0; step < 20; step++) {
      if (response.status >= 301 && response.status <= 303) {
        url = new URL(response.headers.get('location')!, url).href
        response = await this.#request(url)
        continue
      }
      const body = await response.text()
      const post = (action: string, fields: Record<string, string>): Promise<Response> => this.#request(action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(url).origin },
        body: new URLSearchParams(fields).toString(),
      })
      if (response.status === 200 && body.includes('name="interaction_id"')) {
        const fields = { interaction_id: hiddenField(body, 'interaction_id'), csrf_token: hiddenField(body, 'csrf_token') }
        const isLogin = body.includes('name="password"')
        if (isLogin) this.sawLogin = true
        else this.sawConsent = true
        const action = new URL(/action="([^"]+)"/.exec(body)![1]!, url).href
        url = action
        response = await post(action, isLogin ? { ...fields, ...credentials } : { ...fields, decision })
        continue
      }
      if (response.status === 200 && body.includes('<script>HTMLFormElement.prototype.submit')) {
        const form = parseFormPost(body)
        const action = new URL(form.action, url).href
        formPosts.push(action)
        response = await post(action, form.fields)
        url = action
        continue
      }
      return { status: response.status, url, body, formPosts }
    }
    throw new Error('the sign-in did not end')
  }
}
