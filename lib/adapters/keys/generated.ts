import { generateKeyPair, type KeyObject } from 'node:crypto'
import { promisify } from 'node:util'
import { signingAlgorithms, type KeySet, type KeySource, type KeySourceContext, type SigningAlgorithm } from '../../contracts/keys.js'
import { localKey } from './local.js'
import { KeySourceError } from '../../contracts/errors.js'

const generate = promisify(generateKeyPair)

/** Options of `generatedKeys(options)`. */
export interface GeneratedKeysOptions {
  /**
   * One key per listed algorithm; the first is the default signer. Default: `['RS256']`.
   *
   * @example
   * generatedKeys({ algorithms: ['RS256', 'ES256', 'EdDSA'] })
   */
  algorithms?: SigningAlgorithm[]
}

async function newPrivateKey (alg: SigningAlgorithm): Promise<KeyObject> {
  if (alg === 'ES256') return (await generate('ec', { namedCurve: 'P-256' })).privateKey
  if (alg === 'EdDSA') return (await generate('ed25519', {})).privateKey
  return (await generate('rsa', { modulusLength: 2048 })).privateKey
}

/**
 * The development default: an RSA-2048 key pair generated in memory at startup. Tokens stop
 * verifying after a restart and differ between instances, so it logs a warning; use
 * `fileKeys` or a KMS-backed source in production.
 *
 * @example
 * await app.register(oidcProvider, { issuer, keys: generatedKeys() })
 */
export function generatedKeys (options: GeneratedKeysOptions = {}): KeySource {
  const algorithms = options.algorithms ?? ['RS256']
  if (!Array.isArray(algorithms) || algorithms.length === 0 || algorithms.some((alg) => !signingAlgorithms.includes(alg))) {
    throw new KeySourceError(`generatedKeys: "algorithms" must list some of ${signingAlgorithms.join(', ')}`)
  }
  let loaded: KeySet | undefined
  return {
    async load (context: KeySourceContext): Promise<KeySet> {
      if (loaded !== undefined) return loaded
      context.log.warn('fastify-oidc-provider: signing with a key generated in memory; tokens will not verify after a restart. Configure `keys` (fileKeys or a KMS source) for production.')
      const keys = await Promise.all([...new Set(algorithms)].map(async (alg) => await localKey(await newPrivateKey(alg), alg)))
      loaded = { signingKey: keys[0]!.signingKey, signingKeys: keys.map((key) => key.signingKey), publicKeys: keys.map((key) => key.publicJwk) }
      return loaded
    },
  }
}
