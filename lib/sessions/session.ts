import type { ProviderContext } from '../contracts/context.js'
import { randomToken } from '../tokens/crypto.js'

/**
 * A new session's `sid` (OIDC Back-Channel Logout 1.0 §2.1, Front-Channel Logout §3): 128
 * random bits, unrelated to the session id in the cookie, since `sid` is shown to every client
 * the session signs into (in ID tokens and Logout Tokens) while the session id is a bearer secret.
 */
export function newSid (): string {
  return randomToken(16)
}

/**
 * Remembers that the session signed the user into `clientId`, so that ending the session can
 * tell that client (back-channel logout). Called once per issued authorization code; a code
 * issued without a session (none today) records nothing.
 */
export async function recordSessionClient (ctx: ProviderContext, sessionId: string | undefined, clientId: string, known?: readonly string[]): Promise<void> {
  if (sessionId === undefined) return
  // Already recorded (read with the session, `getSession`): adding it again would change nothing.
  if (known?.includes(clientId) === true) return
  await ctx.store.addSessionClient(sessionId, clientId)
}
