/** One requested claim (OIDC Core §5.5.1): `null` or an object with `essential`, `value`, `values`. */
export interface ClaimRequest {
  essential?: boolean
  value?: unknown
  values?: unknown[]
}

/** The `claims` request parameter (OIDC Core §5.5). */
export interface ClaimsRequest {
  id_token?: Record<string, ClaimRequest | null>
  userinfo?: Record<string, ClaimRequest | null>
}

/** What an interaction asks of the user: to sign in, or to consent to what the client asks. */
export type InteractionPrompt = 'login' | 'consent'

/** The client's public metadata (RFC 7591 §2), for the page to show who is asking. */
export interface InteractionClient {
  clientId: string
  /**
   * The host of a client_id URL (Client ID Metadata Documents): the only identity such a
   * client has that was verified (its document was fetched from there); show it prominently.
   */
  clientIdHost?: string
  clientName?: string
  clientUri?: string
  logoUri?: string
  policyUri?: string
  tosUri?: string
}

/** A requested scope with what it releases and the consent text for it. */
export interface InteractionScope {
  name: string
  /** The consent text, in the interaction's locale. */
  description: string
  /** The claims the scope releases (OIDC Core §5.4, or the host's `scopes` option). */
  claims: string[]
}

/**
 * A pending interaction: the provider has decided that the user must sign in (`login`) or
 * consent (`consent`) before the authorization request can be answered; the host shows it.
 */
export interface Interaction {
  /** Opaque id; put it in your page's URL or form as `interaction_id`. */
  id: string
  prompt: InteractionPrompt
  client: InteractionClient
  /** Requested scopes (supported and allowed for the client), in request order. */
  scopes: InteractionScope[]
  /** OIDC Core §5.5: individual claims the client asked for, if any. */
  claims?: ClaimsRequest
  /** The `prompt` parameter's values (`login`, `consent`, `select_account`). */
  prompts: string[]
  loginHint?: string
  /** The `ui_locales` parameter (OIDC Core §3.1.2.1), in order of preference. */
  uiLocales: string[]
  /** The catalog locale the provider picked (ui_locales, then Accept-Language, then `en`). */
  locale: string
  acrValues: string[]
  maxAge?: number
  /** The user already signed in: always set for `consent`, set for `login` when re-authenticating. */
  account?: { accountId: string, authTime: number, acr?: string, amr?: string[] }
  /** Put it in every form that finishes the interaction as `csrf_token` (POSTs are checked). */
  csrfToken: string
  /** Epoch seconds after which the interaction is gone. */
  expiresAt: number
  /**
   * RFC 8628: the user is approving a sign-in on another device (a TV, a command-line tool)
   * that entered through the verification page. Say so on your consent page, with the
   * client's name: only approve a sign-in you started yourself (§5.4). The provider shows its
   * own "you can close this window" page at the end.
   */
  device?: true
}

/** The user signed in. A new login session (new id) starts; `auth_time` is now. */
export interface LoginResult {
  accountId: string
  /** OIDC Core §2 `acr`: the Authentication Context Class Reference satisfied. */
  acr?: string
  /** RFC 8176 `amr` values, e.g. `['pwd', 'otp']`. */
  amr?: string[]
  /** Keep the session across browser restarts (default true); false: a browser-session cookie. */
  remember?: boolean
}

/** The user consented. `scopes` may be fewer than requested (never more); default: all requested. */
export interface ConsentResult {
  scopes?: string[]
}

/** Error codes an interaction may end with (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6). */
export type InteractionErrorCode =
  | 'access_denied'
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'account_selection_required'

/** How the host ends a login or consent interaction. A login may carry the consent too (one page for both). */
export type AuthorizationResult =
  | { login: LoginResult, consent?: ConsentResult }
  | { consent: ConsentResult }
  | { error: InteractionErrorCode, description?: string }

/**
 * How the host ends a sign-out interaction: `true`, the user signs out (the session ends, with
 * back-channel logout); `false`, the user stays signed in. Either way the browser goes on to the
 * verified `post_logout_redirect_uri` (with `state`), else to the signed-out page.
 */
export interface LogoutResult {
  logout: boolean
}

/** How the host ends an interaction (`finishInteraction`): by its prompt, a login/consent or a logout result. */
export type InteractionResult = AuthorizationResult | LogoutResult

/**
 * A pending sign-out (RP-Initiated Logout 1.0 §2): a relying party asked to log the user out
 * and the provider must ask the user first (no `id_token_hint`, a hint for another user or
 * session, `logout_hint` naming someone else, or a POSTed request). The request was validated
 * before it became an interaction: `postLogoutRedirectUri` is registered for `client`.
 */
export interface LogoutInteraction {
  /** Opaque id; put it in your page's URL or form as `interaction_id`. */
  id: string
  prompt: 'logout'
  /** The relying party that asked, when the request named one (`client_id` or `id_token_hint`). */
  client?: InteractionClient
  /** Where the browser goes after the answer (registered for `client`, compared exactly). */
  postLogoutRedirectUri?: string
  /** The user signed in in this browser now, if any: who would be signed out. */
  account?: { accountId: string, authTime: number }
  /** The request's `logout_hint` (RP-Initiated Logout 1.0 §2), as sent. */
  logoutHint?: string
  /** The request's `ui_locales`, in order of preference. */
  uiLocales: string[]
  /** The catalog locale the provider picked (ui_locales, then Accept-Language, then `en`). */
  locale: string
  /** Put it in every form that finishes the interaction as `csrf_token` (POSTs are checked). */
  csrfToken: string
  /** Epoch seconds after which the interaction is gone. */
  expiresAt: number
}

/** What the signed-out page is told (`interactions.signedOutUrl`): shown when there is no post-logout redirect. */
export interface SignedOutView {
  /** `signed_out`: the session ended; `stayed`: the user chose to stay signed in. */
  outcome: 'signed_out' | 'stayed'
  /** The language of the logout's pages (the confirmation's, else ui_locales, Accept-Language, `en`). */
  locale: string
  /** The relying party that asked for the logout, when the request named one. */
  clientId?: string
}

/** The outcome of `checkPassword`: the brute-force limits applied to a host's password form. */
export type PasswordCheck =
  | { ok: true, accountId: string }
  | { ok: false, reason: 'invalid' }
  | { ok: false, reason: 'locked', retryAfter: number }

/**
 * The `interactions` option: the host's own login, consent and logout pages (each optional;
 * the built-in page serves what is not given).
 *
 * @example
 * interactions: {
 *   url: (interaction) => `/login?interaction_id=${interaction.id}`,
 *   logoutUrl: (interaction) => `/sign-out?interaction_id=${interaction.id}`,
 *   signedOutUrl: (view) => `/signed-out?outcome=${view.outcome}`,
 * }
 */
export interface InteractionOptions {
  /**
   * Where `/authorize` sends the browser when a login or consent is needed: a path (or URL) of
   * the host's own route, on the issuer's origin and under its path (the provider's cookies are
   * scoped to it).
   */
  url?: (interaction: Interaction) => string
  /**
   * Where the end_session_endpoint sends the browser when the user must confirm a logout (read
   * it with `getLogoutInteraction`, end it with `finishInteraction(request, reply, { logout })`).
   * Same origin and path rules as `url`.
   */
  logoutUrl?: (interaction: LogoutInteraction) => string
  /** Where the browser goes after a logout that has no post_logout_redirect_uri (default: the built-in page). */
  signedOutUrl?: (view: SignedOutView) => string
}
