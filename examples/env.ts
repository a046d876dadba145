/**
 * The examples' environment contract, in one place: every example (server, custom login, API,
 * MCP) reads its settings through here, so they all treat variables alike.
 *
 * - An empty (or blank) variable means unset, for every variable: `KEYS_DIR=` is the default
 *   keys folder, `SECRET_KEY=` a random secret, `REDIS_URL=` the memory store.
 * - A malformed value stops the start with ONE line naming the variable and the expected form
 *   (`EnvError`); `runExample` prints it and exits 1, without a stack trace.
 * - `loadDotEnv()` reads `.env` when it exists (Node's own `process.loadEnvFile`); variables
 *   already in the environment win over the file.
 */
import { existsSync } from 'node:fs'
import { isIP } from 'node:net'

/** Environment variables as `process.env` holds them (tests pass their own). */
export interface ExampleEnv {
  [name: string]: string | undefined
}

/** A variable with a value the example cannot use; the message is the one line to print. */
export class EnvError extends Error {
  /** `got` is what to show of the bad value: the value itself (cut), or a hint for a secret. */
  constructor (readonly variable: string, expected: string, got: string) {
    super(`${variable} must be ${expected}, got ${got}`)
    this.name = 'EnvError'
  }
}

/** A bad value as the error line shows it: quoted and cut, control characters escaped. */
function shown (value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value)
}

/** The settings every example shares. */
export interface CommonEnv {
  port: number
  host: string
  issuer: string
  /** Unset: the memory store. */
  redisUrl?: string
  /** Unset: no Cluster. */
  redisClusterNodes?: Array<{ host: string, port: number }>
  /**
   * `STORE`: which store. Unset: Redis when REDIS_URL or REDIS_CLUSTER_NODES is set, else memory.
   * `postgres` needs DATABASE_URL.
   */
  store: 'memory' | 'redis' | 'postgres'
  /** DATABASE_URL, the PostgreSQL store's database (with STORE=postgres). */
  databaseUrl?: string
  /** DATABASE_SCHEMA: the PostgreSQL store's schema. Unset: `oidc`. */
  databaseSchema?: string
  /** Unset: a random secret per process (the provider warns). */
  secretKey?: string
  /** Unset: the caller's default folder. */
  keysDir?: string
  trustProxy: boolean
  logLevel: LogLevel
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = typeof logLevels[number]

/** Readers for single variables, for the extra variables an example has (all treat empty as unset). */
export const envVar = {
  /** The value, or undefined when unset, empty or blank. */
  string (env: ExampleEnv, name: string): string | undefined {
    const value = env[name]
    return value === undefined || value.trim() === '' ? undefined : value
  },

  /** An integer within [min, max]. */
  integer (env: ExampleEnv, name: string, range: { min: number, max: number, expected?: string }): number | undefined {
    const value = envVar.string(env, name)
    if (value === undefined) return undefined
    const parsed = /^\s*-?\d+\s*$/.test(value) ? Number(value) : Number.NaN
    if (!Number.isSafeInteger(parsed) || parsed < range.min || parsed > range.max) {
      throw new EnvError(name, range.expected ?? `an integer from ${range.min} to ${range.max}`, shown(value))
    }
    return parsed
  },

  /** A lifetime: a positive whole number of seconds. */
  seconds (env: ExampleEnv, name: string): number | undefined {
    return envVar.integer(env, name, { min: 1, max: 10 * 365 * 86400, expected: 'a positive whole number of seconds' })
  },

  /** `true` or `false` (case-insensitive). */
  boolean (env: ExampleEnv, name: string): boolean | undefined {
    const value = envVar.string(env, name)
    if (value === undefined) return undefined
    const lower = value.trim().toLowerCase()
    if (lower !== 'true' && lower !== 'false') throw new EnvError(name, 'true or false', shown(value))
    return lower === 'true'
  },

  /** An absolute URL with one of the given schemes (`['https:', 'http:']`), no fragment. */
  url (env: ExampleEnv, name: string, protocols: readonly string[], expected: string): string | undefined {
    const value = envVar.string(env, name)
    if (value === undefined) return undefined
    let url: URL
    try {
      url = new URL(value.trim())
    } catch {
      throw new EnvError(name, expected, shown(value))
    }
    if (!protocols.includes(url.protocol) || url.hash !== '' || value.includes('#')) throw new EnvError(name, expected, shown(value))
    return value.trim()
  },

  /** One of a fixed set of words. */
  oneOf<T extends string> (env: ExampleEnv, name: string, values: readonly T[]): T | undefined {
    const value = envVar.string(env, name)
    if (value === undefined) return undefined
    const trimmed = value.trim()
    if (!(values as readonly string[]).includes(trimmed)) throw new EnvError(name, `one of ${values.join(', ')}`, shown(value))
    return trimmed as T
  },
}

/** A host name or IP address to listen on: letters, digits, dots, dashes, or an IPv4/IPv6 address. */
function host (env: ExampleEnv, name: string): string | undefined {
  const value = envVar.string(env, name)
  if (value === undefined) return undefined
  const trimmed = value.trim()
  const hostname = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/
  if (isIP(trimmed) === 0 && !hostname.test(trimmed)) {
    throw new EnvError(name, 'a host name or IP address to listen on (127.0.0.1, 0.0.0.0, ::, localhost)', shown(value))
  }
  return trimmed
}

/** `host:port,host:port` (REDIS_CLUSTER_NODES). */
export function parseHostPortList (env: ExampleEnv, name: string): Array<{ host: string, port: number }> | undefined {
  const value = envVar.string(env, name)
  if (value === undefined) return undefined
  const entries = value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
  const nodes = entries.map((entry) => {
    const match = /^([^\s:]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/.exec(entry)
    const port = Number(match?.[2])
    if (match?.[1] === undefined || port < 1 || port > 65_535) throw new EnvError(name, 'a comma-separated host:port list (10.0.0.1:7000,10.0.0.2:7000)', shown(value))
    return { host: match[1], port }
  })
  if (nodes.length === 0) throw new EnvError(name, 'a comma-separated host:port list (10.0.0.1:7000,10.0.0.2:7000)', shown(value))
  return nodes
}

/**
 * Reads and checks the common contract: `PORT`, `HOST`, `ISSUER`, `STORE`, `REDIS_URL`,
 * `REDIS_CLUSTER_NODES`, `DATABASE_URL`, `DATABASE_SCHEMA`, `SECRET_KEY`, `KEYS_DIR`,
 * `TRUST_PROXY`, `LOG_LEVEL`. Throws `EnvError`
 * for the first malformed one.
 *
 * @example
 * const config = readCommonEnv(process.env, { port: 3000 })
 * await app.listen({ port: config.port, host: config.host })
 */
export function readCommonEnv (env: ExampleEnv, defaults: { port?: number, host?: string } = {}): CommonEnv {
  const port = envVar.integer(env, 'PORT', { min: 0, max: 65_535, expected: 'a TCP port number from 0 to 65535' }) ?? defaults.port ?? 3000
  const issuer = envVar.url(env, 'ISSUER', ['https:', 'http:'], 'an absolute http(s) URL without query or fragment, such as https://id.example.com')
  if (issuer !== undefined && issuer.includes('?')) {
    throw new EnvError('ISSUER', 'an absolute http(s) URL without query or fragment, such as https://id.example.com', shown(issuer))
  }
  const redisUrl = envVar.url(env, 'REDIS_URL', ['redis:', 'rediss:'], 'a redis:// or rediss:// URL, such as redis://127.0.0.1:6379')
  const redisClusterNodes = parseHostPortList(env, 'REDIS_CLUSTER_NODES')
  const databaseUrl = envVar.url(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], 'a postgres:// URL, such as postgres://oidc@127.0.0.1:5432/oidc')
  const databaseSchema = envVar.string(env, 'DATABASE_SCHEMA')?.trim()
  if (databaseSchema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(databaseSchema)) {
    throw new EnvError('DATABASE_SCHEMA', 'a schema name (letters, digits and _, at most 63)', shown(databaseSchema))
  }
  const store = envVar.oneOf(env, 'STORE', ['memory', 'redis', 'postgres'] as const) ??
    (redisUrl !== undefined || redisClusterNodes !== undefined ? 'redis' : 'memory')
  if (store === 'postgres' && databaseUrl === undefined) {
    throw new EnvError('DATABASE_URL', 'set with STORE=postgres (a postgres:// URL, such as postgres://oidc@127.0.0.1:5432/oidc)', 'nothing')
  }
  if (store === 'redis' && redisUrl === undefined && redisClusterNodes === undefined) {
    throw new EnvError('REDIS_URL', 'set with STORE=redis (or REDIS_CLUSTER_NODES)', 'nothing')
  }
  const secretKey = envVar.string(env, 'SECRET_KEY')
  // The provider's cookieSecret rule (>= 32 characters); the secret itself is never printed.
  if (secretKey !== undefined && secretKey.length < 32) {
    throw new EnvError('SECRET_KEY', 'at least 32 characters (see .env.example to generate one)', `${secretKey.length} characters`)
  }
  const keysDir = envVar.string(env, 'KEYS_DIR')?.trim()
  const config: CommonEnv = {
    port,
    host: host(env, 'HOST') ?? defaults.host ?? '127.0.0.1',
    issuer: issuer ?? `http://localhost:${port}`,
    trustProxy: envVar.boolean(env, 'TRUST_PROXY') ?? false,
    logLevel: envVar.oneOf(env, 'LOG_LEVEL', logLevels) ?? 'info',
    store,
  }
  if (databaseUrl !== undefined) config.databaseUrl = databaseUrl
  if (databaseSchema !== undefined) config.databaseSchema = databaseSchema
  if (redisUrl !== undefined) config.redisUrl = redisUrl
  if (redisClusterNodes !== undefined) config.redisClusterNodes = redisClusterNodes
  if (secretKey !== undefined) config.secretKey = secretKey
  if (keysDir !== undefined) config.keysDir = keysDir
  return config
}

/**
 * Reads `.env` from the working directory when it exists (Node ≥ 20.12's `process.loadEnvFile`);
 * what is already in the environment wins. Returns whether a file was read.
 */
export function loadDotEnv (path = '.env'): boolean {
  if (!existsSync(path) || typeof process.loadEnvFile !== 'function') return false
  process.loadEnvFile(path)
  return true
}

/**
 * Runs an example's `main`: an `EnvError` prints its one line and exits 1 (no stack trace);
 * anything else is printed in full, as a bug should be.
 */
export function runExample (name: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof EnvError) console.error(`${name}: ${error.message}`)
    else console.error(error)
    process.exit(1)
  })
}
