import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ClientRecord, GrantRecord, InteractionRecord } from '../contracts/store.js'
import type { OAuthError } from '../contracts/errors.js'
import type { ClaimsRequest } from '../contracts/interactions.js'
import type { FailureCounter } from '../http/failure-counters.js'
import type { BrowserDeps } from '../sessions/browser.js'
import type { AuthorizationResponseType } from '../contracts/options.js'
import type { ResponseMode } from './respond.js'

/*
 * The types the interaction files share. They live apart from the code so that no two files
 * import each other for a type (the engine, the browser binding and the view once did).
 */

/** Raw parameters as the query string or form parser hands them over. */
export type RawParams = Record<string, unknown>

/** A validated authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1). */
export interface AuthorizationRequest {
  client: ClientRecord
  redirectUri: string
  /**
   * RFC 6749 §3.1.1, OIDC Core §3.2, §3.3: `code`, or, when the host and the client opted in,
   * `id_token` or `code id_token` (never one with `token`: RFC 9700 §2.1.2).
   */
  responseType: AuthorizationResponseType
  /** How the response is sent: the request's `response_mode`, or the response type's default. */
  responseMode: ResponseMode
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

/** Who the user is for this authorization: from the browser's session, or from the login just made. */
export interface Authentication {
  accountId: string
  authTime: number
  sessionId?: string
  /** The session's public `sid` (for the ID token and back-channel logout). */
  sid?: string
  /** OIDC Core §2: the Authentication Context Class Reference and methods of the login. */
  acr?: string
  amr?: string[]
  /** The clients the session had signed into when it was read (`SessionRecord.clients`). */
  sessionClients?: readonly string[]
}

/**
 * What the flow does next with an authorization request, as `decide` (or the end of an
 * interaction) found it; the caller acts on it (`act` in steps.ts).
 */
export type Decision =
  /** Show the login page (ours or the host's). */
  | { kind: 'login' }
  /** The user is known; show the consent page for this authorization. */
  | { kind: 'consent', authentication: Authentication }
  /** Issue the code (and/or the ID token, per the response type) and send it to the client. */
  | IssueCode
  /** Send this error to the client's redirect_uri (OIDC Core §3.1.2.6). */
  | { kind: 'error', error: OAuthError }

export interface IssueCode {
  kind: 'issue-code'
  authentication: Authentication
  /** The scopes the code carries: those requested, or those the user just consented to. */
  scopes: readonly string[]
  /**
   * `consented`: the user consented just now, so the grant is recorded (or widened) whatever it
   * covered. `existing`: the grant as just read (undefined: none), recorded only if it falls short.
   */
  grant: { consented: true } | { consented: false, existing: GrantRecord | undefined }
}

/**
 * What the interaction engine needs: the context, the cookies, the login failure counter and
 * how a pending interaction is shown (the host's `interactions.url`, or our built-in pages).
 */
export interface FlowDeps extends BrowserDeps {
  loginFailures: FailureCounter
  /** Shows a pending interaction: our page, or a redirect to the host's. */
  present: (record: InteractionRecord, authorization: AuthorizationRequest, request: FastifyRequest, reply: FastifyReply, status: 302 | 303) => Promise<FastifyReply>
}
