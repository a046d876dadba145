import { rmSync } from 'node:fs'
import { cp, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileKeys } from '../../lib/index.js'

/** The example server's algorithms (examples/server.ts), RS256 first: the default signer. */
const exampleAlgorithms = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const

let template: Promise<string> | undefined

/**
 * A fresh KEYS_DIR holding the four keys the example server would generate on its first start
 * (same file names, written by the same `fileKeys` generateIfMissing), copied from one set made
 * once per test process. Generating two RSA keys inside the example's plugin registration took
 * longer than Fastify's 10 s plugin timeout on a loaded machine; tests about the first start's
 * generation itself (keys.test.ts, the CLI's SIGHUP child) still let the server generate.
 * The caller removes the folder.
 */
export async function exampleKeysDir (): Promise<string> {
  template ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oidc-example-keys-template-'))
    process.once('exit', () => { rmSync(dir, { recursive: true, force: true }) })
    const log = { info () {}, warn () {} }
    await fileKeys({ dir, generateIfMissing: true, algorithms: [...exampleAlgorithms] }).load({ log })
    return dir
  })()
  const dir = await mkdtemp(join(tmpdir(), 'oidc-example-keys-'))
  await cp(await template, dir, { recursive: true })
  return dir
}
