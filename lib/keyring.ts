import type { KeySet, KeySource, KeySourceContext, PublicJwk, SigningKey } from './adapters/keys/types.js'
import { KeySourceError } from './errors.js'
import { JwtVerifier } from './jwt.js'

const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

/**
 * The loaded keys, imported once: the signer, the JWKS as ready-to-send bytes, and a verifier
 * for tokens we issued. `reload()` swaps all three at once when keys rotate.
 */
export class KeyRing {
  #signingKey!: SigningKey
  #publicKeys!: PublicJwk[]
  #jwksBody!: string
  #verifier!: JwtVerifier

  private constructor (
    private readonly source: KeySource,
    private readonly context: KeySourceContext,
    private readonly issuer: string
  ) {}

  static async load (source: KeySource, context: KeySourceContext, issuer: string): Promise<KeyRing> {
    const ring = new KeyRing(source, context, issuer)
    await ring.reload()
    return ring
  }

  async reload (): Promise<void> {
    const keySet = await this.source.load(this.context)
    checkKeySet(keySet)
    const publicKeys = keySet.publicKeys.map(stripPrivate)
    this.#signingKey = keySet.signingKey
    this.#publicKeys = publicKeys
    this.#jwksBody = JSON.stringify({ keys: publicKeys })
    this.#verifier = new JwtVerifier(publicKeys, this.issuer)
  }

  get signingKey (): SigningKey { return this.#signingKey }
  get publicKeys (): readonly PublicJwk[] { return this.#publicKeys }
  /** The serialized JWKS, built once per (re)load. */
  get jwksBody (): string { return this.#jwksBody }
  get verifier (): JwtVerifier { return this.#verifier }
  /** Algorithms of every published key (discovery's `id_token_signing_alg_values_supported`). */
  get algorithms (): string[] { return [...new Set(this.#publicKeys.map((key) => key.alg))] }
}

function checkKeySet (keySet: KeySet): void {
  if (keySet === null || typeof keySet !== 'object') throw new KeySourceError('keys.load() must return { signingKey, publicKeys }')
  const { signingKey, publicKeys } = keySet
  if (typeof signingKey?.sign !== 'function' || typeof signingKey.kid !== 'string' || typeof signingKey.alg !== 'string') {
    throw new KeySourceError('keys.load() returned no signingKey with kid, alg and sign()')
  }
  if (!Array.isArray(publicKeys) || !publicKeys.some((key) => key.kid === signingKey.kid)) {
    throw new KeySourceError(`the public key of the signing key (kid ${signingKey.kid}) must be in publicKeys`)
  }
}

/** Defence in depth: a key source that hands over a private JWK still never publishes it. */
function stripPrivate (jwk: PublicJwk): PublicJwk {
  const copy: Record<string, unknown> = { ...jwk }
  for (const member of privateMembers) delete copy[member]
  return copy as unknown as PublicJwk
}
