import { Compile } from 'typebox/compile'
import type { TObject } from 'typebox'
import type { GrantHandler } from './types.js'
import { authorizationCodeGrant } from './authorization-code.js'
import { refreshTokenGrant } from './refresh-token.js'
import { clientCredentialsGrant } from './client-credentials.js'
import { deviceCodeGrant } from './device-code.js'
import { jwtBearerGrant } from './jwt-bearer.js'
import { tokenExchangeGrant } from './token-exchange.js'

export type { GrantHandler } from './types.js'

/** Every grant the token endpoint serves (discovery's `grant_types_supported`). */
export const grantHandlers: readonly GrantHandler[] = [
  authorizationCodeGrant,
  refreshTokenGrant,
  clientCredentialsGrant,
  deviceCodeGrant,
  tokenExchangeGrant,
  jwtBearerGrant,
]

export interface RegisteredGrant {
  handler: GrantHandler
  /** Validates the body; throws a Fastify-style validation error (→ 400 `invalid_request`). */
  parse (body: unknown): Record<string, unknown>
}

/** Grants by `grant_type`, with their body validators compiled once. */
export function grantRegistry (handlers: readonly GrantHandler[] = grantHandlers): ReadonlyMap<string, RegisteredGrant> {
  const registry = new Map<string, RegisteredGrant>()
  for (const handler of handlers) {
    const validator = Compile(handler.body as TObject)
    registry.set(handler.grantType, {
      handler,
      parse (body) {
        if (validator.Check(body)) return body as Record<string, unknown>
        // Same shape as the plugin's validator compiler, so the error handler describes it.
        throw Object.assign(new Error('invalid request'), { validation: validator.Errors(body), validationContext: 'body' })
      },
    })
  }
  return registry
}
