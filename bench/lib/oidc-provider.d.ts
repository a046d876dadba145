/** The part of node-oidc-provider's API the baseline server uses (the package ships no types). */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http'
  interface ClientLike { grantTypeAllowed: (type: string) => boolean }
  interface Configuration {
    clients: Array<Record<string, unknown>>
    jwks: { keys: Array<Record<string, unknown>> }
    cookies: { keys: string[] }
    claims: Record<string, string[]>
    features: Record<string, { enabled: boolean }>
    interactions: { url: (ctx: unknown, interaction: { uid: string }) => string }
    findAccount: (ctx: unknown, sub: string) => Promise<{ accountId: string, claims: () => Promise<Record<string, unknown>> }>
    issueRefreshToken: (ctx: unknown, client: ClientLike) => Promise<boolean>
  }
  interface GrantInstance {
    addOIDCScope: (scope: string) => void
    save: () => Promise<string>
  }
  class Provider {
    constructor (issuer: string, configuration: Configuration)
    Grant: new (options: { accountId: string, clientId: string }) => GrantInstance
    on (event: 'server_error', listener: (ctx: unknown, error: Error) => void): this
    callback (): (req: IncomingMessage, res: ServerResponse) => void
    interactionDetails (req: IncomingMessage, res: ServerResponse): Promise<{ uid: string, params: Record<string, unknown> }>
    interactionFinished (req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<void>
  }
  export default Provider
}
