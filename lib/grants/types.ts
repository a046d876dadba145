import type { FastifyRequest } from 'fastify'
import Type, { type Static, type TObject } from 'typebox'
import type { ClientRecord, GrantType } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import type { TokenResponse } from '../tokens/issue.js'

/**
 * One grant type of the token endpoint (RFC 6749 §4, §6). `routes/token.ts` dispatches on
 * `grant_type`, validates the body against `body`, authenticates the client (public clients only
 * where `allowPublicClients`), checks the client is registered for the grant, then calls `handle`.
 * Adding a grant is adding a module to `grants/index.ts`, nothing else.
 *
 * @example
 * export const myGrant = {
 *   grantType: 'client_credentials',
 *   body: Type.Object({ scope: Type.Optional(Type.String()) }),
 *   allowPublicClients: false,
 *   async handle (ctx, params, client) { ... },
 * } satisfies GrantHandler<typeof body>
 */
export interface GrantHandler<Body extends TObject = TObject> {
  readonly grantType: GrantType
  /**
   * The grant's own parameters. Unknown parameters are ignored (RFC 6749 §3.1), so schemas leave
   * additional properties open; a repeated parameter arrives as an array and fails `Type.String`.
   */
  readonly body: Body
  /** Whether a public client (client_id only, no secret) may use this grant. */
  readonly allowPublicClients: boolean
  handle (ctx: ProviderContext, params: Static<Body>, client: ClientRecord, request: FastifyRequest): Promise<TokenResponse>
  /**
   * A grant that may be used without client authentication (RFC 7521 §4.2: "client
   * authentication is optional"; the workload-identity profile of RFC 7523): called instead of
   * `handle` when the request carries no client credentials at all.
   */
  handleAnonymous? (ctx: ProviderContext, params: Static<Body>, request: FastifyRequest): Promise<TokenResponse>
}

/**
 * RFC 8707 §2.2 `resource` at the token endpoint: it may be repeated, so an array passes the
 * schema and `resolveTokenResource` answers it with `invalid_target` rather than `invalid_request`.
 */
export const ResourceParameter = Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())]))
