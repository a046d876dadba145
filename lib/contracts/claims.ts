import type { ClaimsRequest, InteractionClient } from './interactions.js'

/** Standard claims (OpenID Connect Core §5.1) a user adapter may return. */
export interface UserClaims {
  sub: string
  name?: string
  given_name?: string
  family_name?: string
  middle_name?: string
  nickname?: string
  preferred_username?: string
  profile?: string
  picture?: string
  website?: string
  email?: string
  email_verified?: boolean
  gender?: string
  birthdate?: string
  zoneinfo?: string
  locale?: string
  phone_number?: string
  phone_number_verified?: boolean
  address?: Record<string, string>
  updated_at?: number
  /** Custom claims, released by the custom scopes that declare them (the `scopes` option). */
  [claim: string]: unknown
}

/** The two kinds of token a claims hook can add to. */
export type TokenKind = 'access_token' | 'id_token'

/** What a claims hook (and the user adapter's `claims`) is told about the token being issued. */
export interface ClaimsContext {
  kind: TokenKind | 'userinfo' | 'consent'
  client: InteractionClient
  /** The user (`sub`); undefined for client_credentials tokens. */
  accountId?: string
  /** The granted scopes of this token. */
  scopes: ReadonlySet<string>
  grantType?: string
  /** RFC 8707: the resource the access token is for, when the request named one. */
  resource?: string
  /** OIDC Core §5.5: individual claims asked for with the `claims` parameter. */
  claimsRequest?: ClaimsRequest
}

/** The claims hook's input: the context plus the user's claims as the adapter returned them. */
export interface ClaimsHookInput extends ClaimsContext {
  kind: TokenKind
  /** All the user's claims from the adapter (unfiltered), or null (unknown user, or no user). */
  account: UserClaims | null
}

/** Returns extra claims for one token; registered claims (`sub`, `aud`, ...) are dropped with a warning. */
export type ClaimsHook = (input: ClaimsHookInput) => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>

/**
 * The `tokenClaims` option: one hook per token kind.
 *
 * @example
 * tokenClaims: {
 *   accessToken: ({ account, scopes }) => scopes.has('roles') ? { roles: account?.roles } : undefined,
 * }
 */
export interface ClaimsHooks {
  accessToken?: ClaimsHook
  idToken?: ClaimsHook
}

/** What a scope means: the claims it releases and the consent text for it. */
export interface ScopeDefinition {
  /** Claims released at userinfo (and in the ID token) when the scope is granted. */
  claims?: string[]
  /** The consent page's text for the scope (English; catalogs translate the standard ones). */
  description?: string
}

/**
 * The `scopes` option. The array form lists the supported scopes (strings, or objects that
 * define a custom scope); the object form adds scopes to the standard ones (`false` removes one).
 *
 * @example
 * scopes: { roles: { claims: ['roles'], description: 'Your roles' } }
 * scopes: ['openid', 'email', { name: 'roles', claims: ['roles'], description: 'Your roles' }]
 */
export type ScopesOption =
  | Array<string | ({ name: string } & ScopeDefinition)>
  | Record<string, ScopeDefinition | boolean>

/** The supported scopes with what each releases: one place that userinfo, consent and discovery read. */
export interface ScopeRegistry {
  /** The supported scope names, in the order the option gave them. */
  readonly names: string[]
  has (scope: string): boolean
  /** The claims the scope releases (none for an unknown scope). */
  claimsOf (scope: string): readonly string[]
  /** The host's own consent text for the scope, if it gave one. */
  description (scope: string): string | undefined
  /** Every claim the granted scopes release. */
  released (scopes: Iterable<string>): Set<string>
  /** Discovery `claims_supported`: the registered claims plus what the scopes release. */
  supportedClaims (): string[]
}
