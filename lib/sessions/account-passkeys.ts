import type { FastifyReply, FastifyRequest } from 'fastify'
import type { PasskeySummary } from '../contracts/passkeys.js'
import { OAuthError } from '../contracts/errors.js'
import { accountRoutes } from '../contracts/urls.js'

/*
 * Passkeys on the account page (issue 31: enrolment "from the account page"): list, rename,
 * remove, and "Add a passkey" through the same ceremonies as the enrolment offer after a
 * password sign-in (`app.oidc.passkeys`), with the same script. The ceremonies live in
 * interactions/ (a layer above this one): the routes hand them in as `AccountPasskeys`.
 */

/** What the account page uses of the passkey ceremonies (interactions/passkeys.ts implements it). */
export interface AccountPasskeys {
  list (accountId: string): Promise<PasskeySummary[]>
  rename (accountId: string, credentialId: string, name: string): Promise<boolean>
  remove (accountId: string, credentialId: string): Promise<boolean>
  registrationOptions (reply: FastifyReply, user: { accountId: string, userName: string, displayName?: string }): Promise<unknown>
  verifyRegistration (request: FastifyRequest, input: { accountId: string, response: unknown, name?: string }): Promise<PasskeySummary>
  /** The two scripts' URLs and their folder (the page's only `script-src`). */
  readonly scripts: { library: string, script: string, source: string }
}

/** The passkey section's variables: the user's passkeys and the forms' targets. */
export async function passkeysView (passkeys: AccountPasskeys, basePath: string, accountId: string, when: (epochSeconds: number) => string): Promise<Record<string, unknown>> {
  const items = await passkeys.list(accountId)
  return {
    items: items.map((passkey) => ({
      credentialId: passkey.credentialId,
      name: passkey.name,
      created: when(passkey.createdAt),
      lastUsed: passkey.lastUsedAt === undefined ? undefined : when(passkey.lastUsedAt),
      synced: passkey.backedUp,
    })),
    library: passkeys.scripts.library,
    script: passkeys.scripts.script,
    options: basePath + accountRoutes.passkeyOptions,
    add: basePath + accountRoutes.passkeyAdd,
    rename: basePath + accountRoutes.passkeyRename,
    remove: basePath + accountRoutes.passkeyRemove,
  }
}

/** A credential id or a name from a form: a string of reasonable length, else a 400. */
export function passkeyField (value: unknown, name: string, max: number): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) throw new OAuthError('invalid_request', `${name} is missing or malformed`)
  return value.trim()
}
