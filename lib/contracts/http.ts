import type { ClientRecord } from './store.js'

/** The endpoints whose actual responses are decided per client (or by the registration policy). */
export type CorsEndpoint = 'token' | 'revoke' | 'introspect' | 'userinfo' | 'register'

/** What the host's CORS policy is told about the response an origin wants to read. */
export interface CorsOriginContext {
  endpoint: CorsEndpoint
  /** The authenticated client (token, revoke, introspect) or the token's client (userinfo). */
  client?: ClientRecord
  /** What the provider would decide alone: the client's redirect URI origins, or open registration. */
  allowedByDefault: boolean
}

/**
 * The host's CORS policy (the `cors` option).
 *
 * @example
 * cors: {
 *   // Also let the company's admin console call the token endpoint for any client.
 *   allowOrigin: (origin, { allowedByDefault }) => allowedByDefault || origin === 'https://admin.example.com',
 * }
 */
export interface CorsOptions {
  /** Widens or narrows who may read an actual response. Default: `allowedByDefault`. */
  allowOrigin? (origin: string, context: CorsOriginContext): boolean | Promise<boolean>
}
