import { createPrivateKey, createPublicKey, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto'
import { mkdir, readdir, readFile, stat, writeFile, link, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { signingAlgorithms, type KeySet, type KeySource, type KeySourceContext, type PublicJwk, type SigningAlgorithm, type SigningKey } from '../../contracts/keys.js'
import { defaultAlgorithm, localKey, publicJwkOf } from './local.js'
import { KeySourceError } from '../../contracts/errors.js'

const generate = promisify(generateKeyPair)

/** Options of `fileKeys(options)`. */
export interface FileKeysOptions {
  /** Folder holding the keys: PEM (`.pem`, `.key`) or JWK (`.json`) files. */
  dir: string
  /**
   * When the folder holds no private key, generate an RSA-2048 key there (mode 0600) instead of
   * failing. Several processes started at once from the same folder end up with the same key.
   */
  generateIfMissing?: boolean
  /**
   * The algorithms this folder serves, one current key each (the newest key of each `alg`
   * signs that `alg`). The first one is the default signer. With `generateIfMissing`, a key is
   * generated for every listed algorithm that has none. Without it, the newest private key of
   * any algorithm is the default signer, and only an empty folder gets an RS256 key.
   *
   * @example
   * fileKeys({ dir: 'keys', generateIfMissing: true, algorithms: ['RS256', 'ES256', 'EdDSA'] })
   */
  algorithms?: SigningAlgorithm[]
}

interface KeyFile {
  name: string
  mtimeMs: number
  key: KeyObject
  isPrivate: boolean
  alg?: SigningAlgorithm
  kid?: string
}

const keyFilePattern = /\.(pem|key|json)$/

/**
 * Loads signing keys from a folder. The newest private key (by modification time, then by file
 * name) of each algorithm signs that algorithm, and the newest of all is the default signer
 * (with `algorithms`, the newest of the first listed algorithm that has one); every other key, private or public-only, stays published in the JWKS so tokens
 * signed before a rotation keep verifying. JWK files may carry `kid` and `alg`; otherwise the
 * `kid` is the RFC 7638 thumbprint and `alg` follows the key type (RS256 for RSA).
 *
 * @example
 * await app.register(oidcProvider, { issuer, keys: fileKeys({ dir: 'keys' }) })
 */
export function fileKeys (options: FileKeysOptions): KeySource {
  if (typeof options?.dir !== 'string' || options.dir === '') {
    throw new KeySourceError('fileKeys: "dir" must be a folder path')
  }
  const wanted = options.algorithms
  if (wanted !== undefined && (!Array.isArray(wanted) || wanted.length === 0 || wanted.some((alg) => !signingAlgorithms.includes(alg)))) {
    throw new KeySourceError(`fileKeys: "algorithms" must list some of ${signingAlgorithms.join(', ')}`)
  }
  return {
    async load (context: KeySourceContext): Promise<KeySet> {
      let files = await readKeyFiles(options.dir)
      if (options.generateIfMissing === true) {
        const held = new Set(files.filter((file) => file.isPrivate).map(algorithmOf))
        const missing = wanted === undefined ? (held.size === 0 ? ['RS256' as const] : []) : wanted.filter((alg) => !held.has(alg))
        // The first listed is written last, so it is also the newest: a reader without
        // `algorithms` (the keys CLI) finds the same default signer.
        for (const alg of [...missing].reverse()) {
          // One file name per algorithm, so instances started at once still end up with one key each.
          await generateKeyFile(options.dir, alg === 'RS256' ? 'signing-key.pem' : `signing-key-${alg.toLowerCase()}.pem`, alg)
          context.log.info(`fastify-oidc-provider: generated a ${alg} signing key in ${options.dir}`)
        }
        if (missing.length > 0) files = await readKeyFiles(options.dir)
      }
      const newestFirst = files.filter((file) => file.isPrivate)
        .sort((a, b) => b.mtimeMs - a.mtimeMs || b.name.localeCompare(a.name))
      // The newest key of each algorithm signs that algorithm; older ones stay published.
      const signerFiles = new Map<SigningAlgorithm, KeyFile>()
      for (const file of newestFirst) {
        if (!signerFiles.has(algorithmOf(file))) signerFiles.set(algorithmOf(file), file)
      }
      const defaultFile = (wanted === undefined ? undefined : wanted.map((alg) => signerFiles.get(alg)).find((file) => file !== undefined)) ?? newestFirst[0]
      if (defaultFile === undefined) {
        throw new KeySourceError(`no private key in ${options.dir} (run: npx fastify-oidc-provider keys generate --dir ${options.dir})`)
      }
      const current = await localKey(defaultFile.key, defaultFile.alg, defaultFile.kid)
      const publicKeys: PublicJwk[] = [current.publicJwk]
      const signingKeys: SigningKey[] = [current.signingKey]
      const signers = new Set(signerFiles.values())
      for (const file of files) {
        if (file === defaultFile) continue
        if (signers.has(file)) {
          const signer = await localKey(file.key, file.alg, file.kid)
          signingKeys.push(signer.signingKey)
          if (!publicKeys.some((published) => published.kid === signer.publicJwk.kid)) publicKeys.push(signer.publicJwk)
          continue
        }
        // Each key keeps the algorithm it signed with (its own `alg`, else its key type's default),
        // not the current signer's: after an RS256 → ES256 or RS256 → PS256 rotation, tokens the
        // old key signed must still verify against the published JWK.
        const jwk = await publicJwkOf(file.key, file.alg ?? defaultAlgorithm(file.key), file.kid)
        if (!publicKeys.some((published) => published.kid === jwk.kid)) publicKeys.push(jwk)
      }
      return { signingKey: current.signingKey, signingKeys, publicKeys }
    },
  }
}

function algorithmOf (file: KeyFile): SigningAlgorithm {
  return file.alg ?? defaultAlgorithm(file.key)
}

async function readKeyFiles (dir: string): Promise<KeyFile[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  const files: KeyFile[] = []
  for (const name of names.filter((entry) => keyFilePattern.test(entry)).sort()) {
    const path = join(dir, name)
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)])
    try {
      files.push({ name, mtimeMs: info.mtimeMs, ...parseKey(name, text) })
    } catch (error) {
      throw new KeySourceError(`cannot read key file ${path}: ${(error as Error).message}`)
    }
  }
  return files
}

function parseKey (name: string, text: string): Omit<KeyFile, 'name' | 'mtimeMs'> {
  if (name.endsWith('.json')) {
    const jwk = JSON.parse(text) as Record<string, unknown>
    const isPrivate = typeof jwk.d === 'string'
    const key = isPrivate
      ? createPrivateKey({ key: jwk as never, format: 'jwk' })
      : createPublicKey({ key: jwk as never, format: 'jwk' })
    return {
      key,
      isPrivate,
      ...(typeof jwk.alg === 'string' ? { alg: jwk.alg as SigningAlgorithm } : {}),
      ...(typeof jwk.kid === 'string' ? { kid: jwk.kid } : {}),
    }
  }
  const alg = pemAlgorithm(text)
  const algorithm = alg === undefined ? {} : { alg }
  if (text.includes('PRIVATE KEY-----')) return { key: createPrivateKey(text), isPrivate: true, ...algorithm }
  return { key: createPublicKey(text), isPrivate: false, ...algorithm }
}

/**
 * A PEM file cannot say which algorithm its key signs with, and an RSA key could sign RS256 or
 * PS256. `generateKeyFile` records a non-default algorithm as an `alg: PS256` line before the
 * PEM block: explanatory text that RFC 7468 §2 lets parsers skip (OpenSSL and Node do).
 */
function pemAlgorithm (text: string): SigningAlgorithm | undefined {
  const preamble = text.slice(0, Math.max(0, text.indexOf('-----BEGIN')))
  const match = /^alg:\s*(\S+)\s*$/m.exec(preamble)
  if (match === null) return undefined
  const alg = match[1] as SigningAlgorithm
  if (!signingAlgorithms.includes(alg)) throw new Error(`unsupported alg "${match[1]}" (use ${signingAlgorithms.join(', ')})`)
  return alg
}

/**
 * Writes a new private key (PKCS#8 PEM, mode 0600) into `dir` and returns its file name:
 * RSA-2048 for RS256 (the default) and PS256, EC P-256 for ES256, Ed25519 for EdDSA. A PS256 key carries an
 * `alg: PS256` line before its PEM block (RSA keys otherwise sign RS256). Written to a
 * temporary file then hard-linked, so a concurrent reader never sees half a key and an
 * existing file is never overwritten: two processes generating the same name at once keep the
 * first one's key.
 *
 * @example
 * await generateKeyFile('keys', `signing-key-${Date.now()}.pem`, 'ES256')
 */
export async function generateKeyFile (dir: string, fileName = 'signing-key.pem', alg: SigningAlgorithm = 'RS256'): Promise<string> {
  if (!signingAlgorithms.includes(alg)) throw new KeySourceError(`unsupported alg "${String(alg)}" (use ${signingAlgorithms.join(', ')})`)
  await mkdir(dir, { recursive: true })
  const { privateKey } = alg === 'ES256'
    ? await generate('ec', { namedCurve: 'P-256' })
    : alg === 'EdDSA'
      ? await generate('ed25519', {})
      : await generate('rsa', { modulusLength: 2048 })
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string
  // Only where the key type does not already say it, so RS256, ES256 and EdDSA files stay bare PEM
  // that every tool reads.
  const preamble = alg === defaultAlgorithm(privateKey) ? '' : `alg: ${alg}\n`
  const temporary = join(dir, `.${fileName}.${randomBytes(6).toString('hex')}.tmp`)
  await writeFile(temporary, preamble + pem, { mode: 0o600, flag: 'wx' })
  try {
    await link(temporary, join(dir, fileName))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  } finally {
    await unlink(temporary)
  }
  return fileName
}
