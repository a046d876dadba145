/**
 * Clients registered as an adopter's relying parties register them: through the example's open
 * dynamic registration (RFC 7591 §3.1), so every lookup goes through the store as in production.
 */
import type { FlowClient } from './flows.js'
import type { HttpClient } from './http.js'

export const benchRedirectUri = 'https://rp.bench.example/callback'

/** node-oidc-provider's static client (bench/oidc-provider-server.ts, the baseline). */
export const oidcProviderClient = {
  client_id: 'bench-node-oidc',
  client_secret: 'bench-node-oidc-secret-0123456789abcdef',
  redirect_uri: benchRedirectUri,
  scope: 'openid profile email',
} as const

/** A confidential web app: authorization_code + refresh_token, client_secret_basic, `openid profile email`. */
export async function registerWebClient (http: HttpClient, extra: Record<string, unknown> = {}): Promise<FlowClient> {
  const scope = 'openid profile email'
  const registered = await register(http, {
    client_name: 'Bench RP',
    redirect_uris: [benchRedirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope,
    ...extra,
  })
  return { ...registered, redirect_uri: benchRedirectUri, scope }
}

/** A confidential service: client_credentials only, client_secret_basic. */
export async function registerServiceClient (http: HttpClient): Promise<{ client_id: string, client_secret: string }> {
  return await register(http, {
    client_name: 'Bench service',
    grant_types: ['client_credentials'],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  })
}

async function register (http: HttpClient, metadata: Record<string, unknown>): Promise<{ client_id: string, client_secret: string }> {
  const response = await http.request('POST', '/register', { 'content-type': 'application/json' }, JSON.stringify(metadata))
  if (response.status !== 201) throw new Error(`registration answered ${response.status}: ${response.body.slice(0, 200)}`)
  const { client_id: clientId, client_secret: clientSecret } = JSON.parse(response.body) as { client_id?: string, client_secret?: string }
  if (typeof clientId !== 'string' || typeof clientSecret !== 'string') throw new Error(`registration without client_id and client_secret: ${response.body.slice(0, 200)}`)
  return { client_id: clientId, client_secret: clientSecret }
}
