import { randomBytes } from 'node:crypto'
import type { OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js'
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import { HttpBrowser } from './http-browser.js'

/**
 * The official MCP SDK's `OAuthClientProvider`, in memory, as an MCP client application would
 * implement it, with the user's browser played by `HttpBrowser` (real HTTP, forms filled, no
 * Chromium): `redirectToAuthorization` logs in and consents, and keeps the redirect back.
 *
 * @example
 * const provider = new McpTestClient({ redirectUrl: 'http://127.0.0.1:1/callback' })
 * await t.rejects(client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider })), UnauthorizedError)
 * await transport.finishAuth(provider.code())
 */
export class McpTestClient implements OAuthClientProvider {
  readonly browser = new HttpBrowser()
  readonly #redirectUrl: string
  readonly #credentials: { username: string, password: string }
  readonly #metadata: OAuthClientMetadata
  readonly clientMetadataUrl: string | undefined
  #client: OAuthClientInformationMixed | undefined
  #tokens: OAuthTokens | undefined
  #verifier = ''
  #state = ''
  #discovery: OAuthDiscoveryState | undefined
  /** Every authorization URL the SDK sent the browser to, and where the provider sent it back. */
  readonly authorizations: Array<{ url: URL, callback: URL }> = []
  registrations = 0

  constructor (options: { redirectUrl: string, username?: string, password?: string, clientMetadataUrl?: string, metadata?: Partial<OAuthClientMetadata> }) {
    this.#redirectUrl = options.redirectUrl
    this.#credentials = { username: options.username ?? 'demo', password: options.password ?? 'demo' }
    this.clientMetadataUrl = options.clientMetadataUrl
    this.#metadata = {
      client_name: 'MCP SDK test client',
      redirect_uris: [options.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...options.metadata,
    }
  }

  get redirectUrl (): string { return this.#redirectUrl }
  get clientMetadata (): OAuthClientMetadata { return this.#metadata }
  state (): string {
    this.#state = randomBytes(16).toString('base64url')
    return this.#state
  }

  clientInformation (): OAuthClientInformationMixed | undefined { return this.#client }
  saveClientInformation (information: OAuthClientInformationMixed): void {
    if (this.#client?.client_id !== information.client_id) this.registrations++
    this.#client = information
  }

  tokens (): OAuthTokens | undefined { return this.#tokens }
  saveTokens (tokens: OAuthTokens): void { this.#tokens = tokens }
  saveCodeVerifier (verifier: string): void { this.#verifier = verifier }
  codeVerifier (): string { return this.#verifier }
  saveDiscoveryState (state: OAuthDiscoveryState): void { this.#discovery = state }
  discoveryState (): OAuthDiscoveryState | undefined { return this.#discovery }
  invalidateCredentials (scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    if (scope === 'all' || scope === 'client') this.#client = undefined
    if (scope === 'all' || scope === 'tokens') this.#tokens = undefined
    if (scope === 'all' || scope === 'discovery') this.#discovery = undefined
  }

  async redirectToAuthorization (url: URL): Promise<void> {
    const callback = await this.browser.authorize(url, this.#credentials)
    this.authorizations.push({ url, callback })
  }

  /** The code of the last authorization, after checking its `state` (RFC 6749 §10.12). */
  code (): string {
    const last = this.authorizations.at(-1)
    if (last === undefined) throw new Error('no authorization yet')
    const { callback } = last
    if (callback.searchParams.get('state') !== this.#state) throw new Error(`state mismatch: ${callback.href}`)
    const code = callback.searchParams.get('code')
    if (code === null) throw new Error(`no code in ${callback.href}`)
    return code
  }
}
