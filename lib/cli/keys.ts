import { createPrivateKey, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { fileKeys, generateKeyFile } from '../adapters/keys/file.js'
import { publicJwkOf } from '../adapters/keys/local.js'
import type { SigningAlgorithm } from '../adapters/keys/types.js'
import { KeyRing } from '../keyring.js'
import { type CliIo, UsageError, exitCodes } from './io.js'

export const keysUsage = `Usage: fastify-oidc-provider keys <generate|rotate|jwks> [options]

  keys generate [--alg RS256|PS256|ES256] [--dir DIR]
      Writes a new private key (PKCS#8 PEM, mode 0600) to DIR and prints its kid (the
      RFC 7638 thumbprint). Never overwrites a file. The newest key signs. Default alg: RS256.
  keys rotate [--alg RS256|PS256|ES256] [--dir DIR]
      Adds a new signing key; the previous keys stay published in the JWKS so tokens they
      signed keep verifying. Prints the previous and the new kid. Default alg: the current
      key's. Then reload the running provider (the example server reloads on SIGHUP; in your
      own app call app.oidc.reloadKeys()).
  keys jwks [--dir DIR] [--pretty]
      Prints the public JWKS (no private members), byte for byte what /jwks.json serves.

  --dir DIR   the keys folder (default: $KEYS_DIR, else ./keys), as fileKeys({ dir }) reads it
`

const algorithms: readonly SigningAlgorithm[] = ['RS256', 'PS256', 'ES256']

const dirOption = { dir: { type: 'string', short: 'd' }, help: { type: 'boolean', short: 'h' } } as const
const optionsBySubcommand = {
  generate: { ...dirOption, alg: { type: 'string' } },
  rotate: { ...dirOption, alg: { type: 'string' } },
  jwks: { ...dirOption, pretty: { type: 'boolean' } },
} as const satisfies Record<string, ParseArgsConfig['options']>

type Subcommand = keyof typeof optionsBySubcommand

interface KeysOptions {
  dir: string
  alg: SigningAlgorithm | undefined
  pretty: boolean
}

/** `keys <subcommand> [options]`: resolves to the exit status. */
export async function keysCommand (argv: readonly string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = argv
  if (subcommand === '-h' || subcommand === '--help') {
    io.stdout.write(keysUsage)
    return exitCodes.ok
  }
  if (subcommand === undefined) throw new UsageError('missing keys command (generate, rotate or jwks)')
  if (!Object.hasOwn(optionsBySubcommand, subcommand)) {
    throw new UsageError(`unknown keys command "${subcommand}" (use generate, rotate or jwks)`)
  }
  const values = parse(subcommand as Subcommand, rest)
  if (values.help === true) {
    io.stdout.write(keysUsage)
    return exitCodes.ok
  }
  const options: KeysOptions = {
    dir: keysDir(values.dir, io),
    alg: algorithm(values.alg),
    pretty: values.pretty === true,
  }
  switch (subcommand as Subcommand) {
    case 'generate': return await generate(options, io)
    case 'rotate': return await rotate(options, io)
    case 'jwks': return await jwks(options, io)
  }
}

function parse (subcommand: Subcommand, args: string[]): { dir?: string, alg?: string, pretty?: boolean, help?: boolean } {
  try {
    const options: ParseArgsConfig['options'] = optionsBySubcommand[subcommand]
    const { values } = parseArgs({ args, options, strict: true, allowPositionals: false })
    // strict parsing guarantees each value has its option's declared type
    return values as { dir?: string, alg?: string, pretty?: boolean, help?: boolean }
  } catch (error) {
    // parseArgs explains unknown options, missing values and stray arguments well; keep its words.
    throw new UsageError(`keys ${subcommand}: ${(error as Error).message}`)
  }
}

function keysDir (value: string | undefined, io: CliIo): string {
  if (value === undefined) return io.env.KEYS_DIR !== undefined && io.env.KEYS_DIR !== '' ? io.env.KEYS_DIR : 'keys'
  if (value.trim() === '') throw new UsageError('--dir must not be empty')
  return value
}

function algorithm (value: string | undefined): SigningAlgorithm | undefined {
  if (value === undefined) return undefined
  // JOSE names are case-sensitive on the wire; on the command line `rs256` clearly means RS256.
  const alg = value.toUpperCase() as SigningAlgorithm
  if (!algorithms.includes(alg)) throw new UsageError(`--alg must be one of ${algorithms.join(', ')}, got "${value}"`)
  return alg
}

/** Loads the folder exactly as the provider does (fileKeys + KeyRing), so the output cannot drift. */
async function loadKeyRing (dir: string, io: CliIo): Promise<KeyRing> {
  const log = { info: (msg: string) => io.stderr.write(`${msg}\n`), warn: (msg: string) => io.stderr.write(`warning: ${msg}\n`) }
  // The issuer only matters to the verifier, which the CLI never uses.
  return await KeyRing.load(fileKeys({ dir }), { log }, 'urn:fastify-oidc-provider:cli')
}

/**
 * A name that sorts by creation time (ISO 8601 basic format, UTC, milliseconds) with a random
 * suffix, so two keys generated in the same millisecond still get distinct files.
 */
function newKeyFileName (): string {
  const stamp = new Date().toISOString().replace(/[-:.]/g, '')
  return `signing-key-${stamp}-${randomBytes(3).toString('hex')}.pem`
}

/** Writes a key, then reads it back: the printed kid is the one of the file actually on disk. */
async function writeKey (dir: string, alg: SigningAlgorithm): Promise<{ path: string, kid: string }> {
  const name = await generateKeyFile(dir, newKeyFileName(), alg)
  const path = join(dir, name)
  const jwk = await publicJwkOf(createPrivateKey(await readFile(path, 'utf8')), alg)
  return { path, kid: jwk.kid }
}

function checkSigner (ring: KeyRing, kid: string, path: string, io: CliIo): void {
  // fileKeys picks the newest modification time: a key file touched "in the future" would win.
  if (ring.signingKey.kid !== kid) {
    io.stderr.write(`warning: ${path} is not the newest key file by modification time; kid ${ring.signingKey.kid} still signs\n`)
  }
}

async function generate (options: KeysOptions, io: CliIo): Promise<number> {
  const alg = options.alg ?? 'RS256'
  const { path, kid } = await writeKey(options.dir, alg)
  const ring = await loadKeyRing(options.dir, io)
  checkSigner(ring, kid, path, io)
  io.stderr.write(`wrote ${path} (${alg}, mode 0600); ${ring.publicKeys.length} key(s) published in ${options.dir}\n`)
  // stdout carries only the kid, so `kid=$(fastify-oidc-provider keys generate)` works.
  io.stdout.write(`${kid}\n`)
  return exitCodes.ok
}

async function rotate (options: KeysOptions, io: CliIo): Promise<number> {
  // Fails with "no private key in DIR (run: ... keys generate ...)" when there is nothing to rotate.
  const before = await loadKeyRing(options.dir, io)
  const alg = options.alg ?? before.signingKey.alg
  const { path, kid } = await writeKey(options.dir, alg)
  const after = await loadKeyRing(options.dir, io)
  checkSigner(after, kid, path, io)
  if (!after.publicKeys.some((key) => key.kid === before.signingKey.kid)) {
    throw new Error(`the previous key ${before.signingKey.kid} is no longer published in ${options.dir}`)
  }
  io.stderr.write(`wrote ${path} (${alg}, mode 0600); ${after.publicKeys.length} key(s) published in ${options.dir}\n` +
    'Reload the running provider: the example server reloads on SIGHUP, your app calls app.oidc.reloadKeys().\n' +
    'Delete the previous key file once every token it signed has expired.\n')
  io.stdout.write(`previous kid: ${before.signingKey.kid}\nnew kid: ${kid}\n`)
  return exitCodes.ok
}

async function jwks (options: KeysOptions, io: CliIo): Promise<number> {
  const ring = await loadKeyRing(options.dir, io)
  const body = options.pretty ? JSON.stringify(JSON.parse(ring.jwksBody), null, 2) : ring.jwksBody
  io.stdout.write(`${body}\n`)
  return exitCodes.ok
}
