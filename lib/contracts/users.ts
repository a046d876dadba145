import type { ClaimsContext, UserClaims } from './claims.js'

/**
 * How the provider checks passwords and reads user claims. Implement it over your user
 * database; the provider filters the returned claims by the granted scopes (OIDC Core §5.4).
 *
 * @example
 * const users: UserAdapter = {
 *   async authenticate (username, password) {
 *     const row = await db.findUser(username)
 *     return row && await verify(row.hash, password) ? row.id : null
 *   },
 *   async claims (sub) {
 *     const row = await db.getUser(sub)
 *     return row && { sub, name: row.name, email: row.email, email_verified: true }
 *   },
 * }
 */
export interface UserAdapter {
  /** Returns the user's stable id (`sub`) when the credentials are right, else null. */
  authenticate (username: string, password: string): Promise<string | null>
  /**
   * The user's claims; the provider keeps only those the scopes allow. Null for an unknown user.
   * `context` says what they are for (userinfo, ID token, access token hook, consent page),
   * which client and resource; adapters written without it keep working.
   */
  claims (sub: string, scopes: ReadonlySet<string>, context?: ClaimsContext): Promise<UserClaims | null>
}
