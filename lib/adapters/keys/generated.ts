import { generateKeyPair } from 'node:crypto'
import { promisify } from 'node:util'
import type { KeySet, KeySource, KeySourceContext } from './types.js'
import { localKey } from './local.js'

const generate = promisify(generateKeyPair)

/**
 * The development default: an RSA-2048 key pair generated in memory at startup. Tokens stop
 * verifying after a restart and differ between instances, so it logs a warning; use
 * `fileKeys` or a KMS-backed source in production.
 *
 * @example
 * await app.register(oidcProvider, { issuer, keys: generatedKeys() })
 */
export function generatedKeys (): KeySource {
  let loaded: KeySet | undefined
  return {
    async load (context: KeySourceContext): Promise<KeySet> {
      if (loaded !== undefined) return loaded
      context.log.warn('fastify-oidc-provider: signing with a key generated in memory; tokens will not verify after a restart. Configure `keys` (fileKeys or a KMS source) for production.')
      const { privateKey } = await generate('rsa', { modulusLength: 2048 })
      const key = await localKey(privateKey, 'RS256')
      loaded = { signingKey: key.signingKey, publicKeys: [key.publicJwk] }
      return loaded
    },
  }
}
