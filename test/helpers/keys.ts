import { generateKeyPairSync } from 'node:crypto'
import type { KeySource } from '../../lib/index.js'
import { localKey } from '../../lib/adapters/keys/local.js'

// One RSA key per test process: generating 2048-bit keys costs ~100 ms each.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })

/** A key source over a process-wide test key (no warning, no per-test key generation). */
export function testKeys (): KeySource {
  return {
    async load () {
      const key = await localKey(privateKey, 'RS256')
      return { signingKey: key.signingKey, publicKeys: [key.publicJwk] }
    },
  }
}
