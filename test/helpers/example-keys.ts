import { rmSync } from 'node:fs'
import { cp, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileKeys, type SigningAlgorithm } from '../../lib/index.js'

/** The example server's algorithms (examples/server.ts), RS256 first: the default signer. */
const exampleAlgorithms: SigningAlgorithm[] = ['RS256', 'PS256', 'ES256', 'EdDSA']

const templates = new Map<string, Promise<string>>()

/**
 * A fresh KEYS_DIR holding the four keys the example server would generate on its first start
 * (same file names, written by the same `fileKeys` generateIfMissing), copied from one set made
 * once per test process. Generating two RSA keys inside the example's plugin registration took
 * longer than Fastify's 10 s plugin timeout on a loaded machine; tests about the first start's
 * generation itself (keys.test.ts, the CLI's SIGHUP child) still let the server generate.
 * `['RS256']` is what the custom-login example generates. The caller removes the folder.
 */
export async function exampleKeysDir (algorithms: SigningAlgorithm[] = exampleAlgorithms): Promise<string> {
  const key = algorithms.join(',')
  const template = templates.get(key) ?? (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oidc-example-keys-template-'))
    process.once('exit', () => { rmSync(dir, { recursive: true, force: true }) })
    const log = { info () {}, warn () {} }
    await fileKeys({ dir, generateIfMissing: true, algorithms }).load({ log })
    return dir
  })()
  templates.set(key, template)
  const dir = await mkdtemp(join(tmpdir(), 'oidc-example-keys-'))
  await cp(await template, dir, { recursive: true })
  return dir
}
