import type { ClientRecord } from '../contracts/store.js'
import type { ClaimsRequest } from '../contracts/interactions.js'

/** Raw parameters as the query string or form parser hands them over. */
export type RawParams = Record<string, unknown>

/** A validated authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1). */
export interface AuthorizationRequest {
  client: ClientRecord
  redirectUri: string
  /** RFC 6749 §3.1.1: the only response type this provider issues. */
  responseType: 'code'
  /** Requested scopes that are supported and allowed for the client, in request order. */
  scopes: string[]
  state?: string
  nonce?: string
  /** Absent only when the client may rely on a nonce instead (`mayOmitCodeChallenge`). */
  codeChallenge?: string
  codeChallengeMethod?: 'S256'
  /** RFC 9449 §10: the DPoP key thumbprint the code is to be bound to. */
  dpopJkt?: string
  /** RFC 8707 §2: the normalised resources requested, each one the provider knows. */
  resources: string[]
  prompt: ReadonlySet<string>
  maxAge?: number
  loginHint?: string
  idTokenHint?: string
  /** The `sub` of `idTokenHint`, verified as an ID token we issued to this client (OIDC Core §3.1.2.1). */
  hintSubject?: string
  /** OIDC Core §3.1.2.1: the user's preferred languages, in order (BCP 47 tags). */
  uiLocales?: string[]
  /** OIDC Core §3.1.2.1: requested Authentication Context Class References, in order. */
  acrValues?: string[]
  /** OIDC Core §5.5: individual claims requested for the ID token and the UserInfo response. */
  claims?: ClaimsRequest
}
