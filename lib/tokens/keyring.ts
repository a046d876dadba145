import { signingAlgorithms, type ProviderKeys, type KeySet, type KeySource, type KeySourceContext, type PublicJwk, type SigningAlgorithm, type SigningKey } from '../contracts/keys.js'
import { KeySourceError } from '../contracts/errors.js'
import { JwtVerifier } from './jwt.js'

const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

/**
 * The loaded keys, imported once: the signer, the JWKS as ready-to-send bytes, and a verifier
 * for tokens we issued. `reload()` swaps all three at once when keys rotate.
 */
export class KeyRing implements ProviderKeys {
  #signingKey!: SigningKey
  #signers!: ReadonlyMap<SigningAlgorithm, SigningKey>
  #algorithms!: SigningAlgorithm[]
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
    const signers = new Map<SigningAlgorithm, SigningKey>([[keySet.signingKey.alg, keySet.signingKey]])
    for (const key of keySet.signingKeys ?? []) if (!signers.has(key.alg)) signers.set(key.alg, key)
    this.#signingKey = keySet.signingKey
    this.#signers = signers
    this.#algorithms = signingAlgorithms.filter((alg) => signers.has(alg))
    this.#publicKeys = publicKeys
    this.#jwksBody = JSON.stringify({ keys: publicKeys })
    this.#verifier = new JwtVerifier(publicKeys, this.issuer)
  }

  /**
   * The current signer for `alg`, or the default signer when `alg` is not given. Undefined when
   * no key of that algorithm is held (check with `algorithms()` first).
   */
  signingKey (): SigningKey
  signingKey (alg: SigningAlgorithm | undefined): SigningKey | undefined
  signingKey (alg?: SigningAlgorithm): SigningKey | undefined {
    return alg === undefined ? this.#signingKey : this.#signers.get(alg)
  }

  /**
   * The algorithms the provider can sign with (one current key each), in a stable order: the
   * single source for discovery's `id_token_signing_alg_values_supported` and for validating a
   * client's `id_token_signed_response_alg`. Retired keys (published, no longer signing) are
   * not in it.
   */
  algorithms (): SigningAlgorithm[] { return [...this.#algorithms] }

  get publicKeys (): readonly PublicJwk[] { return this.#publicKeys }
  /** The serialized JWKS, built once per (re)load. */
  get jwksBody (): string { return this.#jwksBody }
  get verifier (): JwtVerifier { return this.#verifier }
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
  if (keySet.signingKeys !== undefined && !Array.isArray(keySet.signingKeys)) throw new KeySourceError('keys.load(): signingKeys must be an array')
  for (const key of [signingKey, ...keySet.signingKeys ?? []]) {
    if (typeof key?.sign !== 'function' || typeof key.kid !== 'string' || !signingAlgorithms.includes(key.alg)) {
      throw new KeySourceError(`keys.load(): every signing key needs kid, sign() and an alg among ${signingAlgorithms.join(', ')}`)
    }
    const published = publicKeys.find((jwk) => jwk.kid === key.kid)
    if (published === undefined || published.alg !== key.alg) {
      throw new KeySourceError(`the public key of signing key ${key.kid} (${key.alg}) must be in publicKeys with the same alg`)
    }
  }
}

/** Defence in depth: a key source that hands over a private JWK still never publishes it. */
function stripPrivate (jwk: PublicJwk): PublicJwk {
  const copy: Record<string, unknown> = { ...jwk }
  for (const member of privateMembers) delete copy[member]
  return copy as unknown as PublicJwk
}
