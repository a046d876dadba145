/**
 * What the bench server and the load generator agree on: the static clients, the redirect URI
 * and the scopes. The secrets are bench-only constants (the server never listens beyond 127.0.0.1).
 */

/** A confidential client for `client_credentials` and introspection. */
export const serviceClient = {
  client_id: 'bench-service',
  client_secret: 'bench-service-secret-0123456789',
  scope: 'api:read api:write',
} as const

/** A confidential web client for the code flows (with refresh tokens, like a real web app). */
export const webClient = {
  client_id: 'bench-web',
  client_secret: 'bench-web-secret-0123456789abcdef',
  redirect_uri: 'https://rp.bench.example/callback',
  scope: 'openid profile email offline_access',
} as const

/** Scopes the bench provider supports: the defaults plus the service client's API scopes. */
export const supportedScopes = ['openid', 'profile', 'email', 'address', 'phone', 'offline_access', 'api:read', 'api:write']

/** `Authorization: Basic` for a client (RFC 6749 §2.3.1: both parts form-urlencoded). */
export function basicAuth (client: { client_id: string, client_secret: string }): string {
  const encode = (value: string): string => encodeURIComponent(value).replaceAll('%20', '+')
  return `Basic ${Buffer.from(`${encode(client.client_id)}:${encode(client.client_secret)}`).toString('base64')}`
}
