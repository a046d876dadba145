import type { JWTPayload } from 'jose'

/**
 * JWS algorithms a signing key may use (RFC 7518 §3, RFC 8037 §3.1 for EdDSA with Ed25519).
 * RS256 is what OpenID Connect requires every provider to support.
 */
export type SigningAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'EdDSA'

/** Every signing algorithm a key source may hold, in the order discovery lists them. */
export const signingAlgorithms: readonly SigningAlgorithm[] = ['RS256', 'PS256', 'ES256', 'EdDSA']

/** A public key as published in the JWKS (RFC 7517), never with private members. */
export interface PublicJwk {
  kty: string
  kid: string
  alg: SigningAlgorithm
  use: 'sig'
  n?: string
  e?: string
  crv?: string
  x?: string
  y?: string
}

/**
 * The key that signs tokens. `sign` receives the JWS signing input (RFC 7515 §5.1) and returns
 * the raw signature, so the private key can live in a KMS or HSM and never enter the process.
 */
export interface SigningKey {
  kid: string
  alg: SigningAlgorithm
  sign (data: Uint8Array): Promise<Uint8Array>
}

/**
 * What a key source yields: the current signer, and every public key to publish. A source may
 * hold one signer per algorithm (`signingKeys`): the provider then signs each token with the
 * algorithm asked for (a client's `id_token_signed_response_alg`, `accessTokenSigningAlg`).
 */
export interface KeySet {
  /** The default signer (used when no algorithm is asked for). */
  signingKey: SigningKey
  /**
   * Optional: the current signer of each algorithm the source holds, at most one per `alg`
   * (`signingKey` is one of them or is added). Each one's public key must be in `publicKeys`.
   */
  signingKeys?: SigningKey[]
  /** The signing key's public JWK first, then keys kept published for rotation. */
  publicKeys: PublicJwk[]
}

/** What the provider hands a key source's `load()`: its logger, for warnings such as a generated key. */
export interface KeySourceContext {
  log: { warn (msg: string): void, info (msg: string): void }
}

/**
 * Where signing keys come from. `load` runs once at registration and again on
 * `app.oidc.reloadKeys()` (rotation); keys are imported there, never per request.
 *
 * @example
 * // A KMS-backed source: the private key never enters the process.
 * const kmsKeys: KeySource = {
 *   async load () {
 *     return {
 *       signingKey: { kid: 'kms-1', alg: 'RS256', sign: (data) => kms.sign(data) },
 *       publicKeys: [await kms.publicJwk()],
 *     }
 *   },
 * }
 */
export interface KeySource {
  load (context: KeySourceContext): Promise<KeySet>
}

/** Verifies a JWT this provider issued, with its own keys: its payload, or undefined for anything else. */
export interface IssuedTokenVerifier {
  verify (token: string, options: { typ: string, audience?: string, ignoreExpiry?: boolean }): Promise<JWTPayload | undefined>
}

/**
 * The provider's keys as every concern uses them (`ctx.keys`, tokens/keyring.ts): imported once,
 * swapped together by `reload()` when keys rotate.
 */
export interface ProviderKeys {
  /** The key source's current signer. */
  signingKey (): SigningKey
  /** The current signer for `alg` (the default one when undefined), or undefined when none is held. */
  signingKey (alg: SigningAlgorithm | undefined): SigningKey | undefined
  /** The algorithms with a current signing key (discovery, registration rules). */
  algorithms (): SigningAlgorithm[]
  readonly publicKeys: readonly PublicJwk[]
  /** The JWKS document, serialised once. */
  readonly jwksBody: string
  readonly verifier: IssuedTokenVerifier
  reload (): Promise<void>
}
