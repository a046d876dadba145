import { createPrivateKey, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { fileKeys, generateKeyFile } from '../adapters/keys/file.js'
import { publicJwkOf } from '../adapters/keys/local.js'
import { signingAlgorithms as algorithms, type SigningAlgorithm } from '../contracts/keys.js'
import { KeyRing } from '../tokens/keyring.js'
import { type CliIo, UsageError, exitCodes } from './io.js'

export const keysUsage = `Usage: fastify-oidc-provider keys <generate|rotate|jwks> [options]

  keys generate [--alg RS256|PS256|ES256|EdDSA|all] [--dir DIR]
      Writes a new private key (PKCS#8 PEM, mode 0600) to DIR and prints its kid (the
      RFC 7638 thumbprint). Never overwrites a file. The newest key of each alg signs that
      alg. Default alg: RS256. --alg takes a comma-separated list, or all: one key per alg
      (one kid per line, in the order given).
  keys rotate [--alg RS256|PS256|ES256|EdDSA] [--dir DIR]
      Adds a new signing key for one alg; the previous keys stay published in the JWKS so
      tokens they signed keep verifying. Prints the previous and the new kid of that alg.
      Default alg: the default signer's. Then reload the running provider (the example server reloads on SIGHUP; in your
      own app call app.oidc.reloadKeys()).
  keys jwks [--dir DIR] [--pretty]
      Prints the public JWKS (no private members), byte for byte what /jwks.json serves.

  --dir DIR   the keys folder (default: $KEYS_DIR, else ./keys), as fileKeys({ dir }) reads it
`

const dirOption = { dir: { type: 'string', short: 'd' }, help: { type: 'boolean', short: 'h' } } as const
const optionsBySubcommand = {
  generate: { ...dirOption, alg: { type: 'string' } },
  rotate: { ...dirOption, alg: { type: 'string' } },
  jwks: { ...dirOption, pretty: { type: 'boolean' } },
} as const satisfies Record<string, ParseArgsConfig['options']>

type Subcommand = keyof typeof optionsBySubcommand

interface KeysOptions {
  dir: string
  /** One or more algorithms (generate takes a list; rotate exactly one). */
  alg: SigningAlgorithm[] | undefined
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

function algorithm (value: string | undefined): SigningAlgorithm[] | undefined {
  if (value === undefined) return undefined
  if (value.toLowerCase() === 'all') return [...algorithms]
  return [...new Set(value.split(',').map((item) => {
    // JOSE names are case-sensitive on the wire; on the command line `rs256` clearly means RS256.
    const alg = algorithms.find((known) => known.toUpperCase() === item.trim().toUpperCase())
    if (alg === undefined) throw new UsageError(`--alg must be one of ${algorithms.join(', ')} (or a comma-separated list, or all), got "${value}"`)
    return alg
  }))]
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

function checkSigner (ring: KeyRing, alg: SigningAlgorithm, kid: string, path: string, io: CliIo): void {
  // fileKeys picks the newest modification time: a key file touched "in the future" would win.
  const signer = ring.signingKey(alg)
  if (signer?.kid !== kid) {
    io.stderr.write(`warning: ${path} is not the newest key file by modification time; kid ${signer?.kid ?? '(none)'} still signs ${alg}\n`)
  }
}

async function generate (options: KeysOptions, io: CliIo): Promise<number> {
  const kids: string[] = []
  for (const alg of options.alg ?? ['RS256']) {
    const { path, kid } = await writeKey(options.dir, alg)
    const ring = await loadKeyRing(options.dir, io)
    checkSigner(ring, alg, kid, path, io)
    io.stderr.write(`wrote ${path} (${alg}, mode 0600); ${ring.publicKeys.length} key(s) published in ${options.dir}\n`)
    kids.push(kid)
  }
  // stdout carries only the kids, so `kid=$(fastify-oidc-provider keys generate)` works.
  io.stdout.write(kids.map((kid) => `${kid}\n`).join(''))
  return exitCodes.ok
}

async function rotate (options: KeysOptions, io: CliIo): Promise<number> {
  // Fails with "no private key in DIR (run: ... keys generate ...)" when there is nothing to rotate.
  const ring = await loadKeyRing(options.dir, io)
  if (options.alg !== undefined && options.alg.length !== 1) throw new UsageError('keys rotate: --alg takes one algorithm')
  const alg = options.alg?.[0] ?? ring.signingKey().alg
  // No key of that alg yet: rotating to it adds one; the default signer is the previous key.
  const previous = ring.signingKey(alg) ?? ring.signingKey()
  const before = { signingKey: () => previous }
  const { path, kid } = await writeKey(options.dir, alg)
  const after = await loadKeyRing(options.dir, io)
  checkSigner(after, alg, kid, path, io)
  if (!after.publicKeys.some((key) => key.kid === before.signingKey().kid)) {
    throw new Error(`the previous key ${before.signingKey().kid} is no longer published in ${options.dir}`)
  }
  io.stderr.write(`wrote ${path} (${alg}, mode 0600); ${after.publicKeys.length} key(s) published in ${options.dir}\n` +
    'Reload the running provider: the example server reloads on SIGHUP, your app calls app.oidc.reloadKeys().\n' +
    'Delete the previous key file once every token it signed has expired.\n')
  io.stdout.write(`previous kid: ${before.signingKey().kid}\nnew kid: ${kid}\n`)
  return exitCodes.ok
}

async function jwks (options: KeysOptions, io: CliIo): Promise<number> {
  const ring = await loadKeyRing(options.dir, io)
  const body = options.pretty ? JSON.stringify(JSON.parse(ring.jwksBody), null, 2) : ring.jwksBody
  io.stdout.write(`${body}\n`)
  return exitCodes.ok
}
