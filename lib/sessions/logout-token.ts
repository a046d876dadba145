import type { ProviderContext } from '../contracts/context.js'
import type { SessionRecord } from '../contracts/store.js'
import { signJwt } from '../tokens/jwt.js'
import { nowSeconds, randomToken } from '../tokens/crypto.js'

/** OIDC Back-Channel Logout 1.0 §2.4: the `typ` of a Logout Token (explicit typing, RFC 8725 §3.11). */
export const logoutTokenType = 'logout+jwt'
/** §2.4: the event member that makes a JWT a Logout Token. */
export const backchannelLogoutEvent = 'http://schemas.openid.net/event/backchannel-logout'
/** §2.4 leaves `exp` to us; two minutes covers delivery and clock skew. */
const logoutTokenLifetime = 120

/** Whom a Logout Token is about: the user (`sub`) and, when known, the session (`sid`). */
export type LogoutSubject = Pick<SessionRecord, 'accountId' | 'sid'>

/**
 * Signs a Logout Token for one client (OIDC Back-Channel Logout 1.0 §2.4): `iss`, `aud` (the
 * client), `iat`, `exp`, `jti`, `events`, and both `sub` and `sid` (§2.4 allows both; `sid` is
 * what `backchannel_logout_session_required` asks for). Never a `nonce` (§2.4: prohibited).
 *
 * @example
 * const token = await signLogoutToken(ctx, session, 'client-1')
 */
export async function signLogoutToken (ctx: ProviderContext, session: LogoutSubject, clientId: string): Promise<string> {
  const iat = nowSeconds()
  return await signJwt(ctx.keys.signingKey(), logoutTokenType, {
    iss: ctx.issuer,
    sub: session.accountId,
    aud: clientId,
    iat,
    exp: iat + logoutTokenLifetime,
    jti: randomToken(16),
    events: { [backchannelLogoutEvent]: {} },
    ...(session.sid === undefined ? {} : { sid: session.sid }),
  })
}
