/**
 * The example server (`npm start`), or another example's server, in the test's process: `buildExampleServer(env)` as
 * examples/server.ts builds it, listening on a loopback port, with a fresh KEYS_DIR copied from
 * the keys made once per process (test/helpers/example-keys.ts). In-process because a tsx child
 * costs seconds of start-up on a loaded machine; what only the process decides (`.env`, exit
 * codes, SIGHUP) is tested with children in example-env.test.ts and cli.test.ts.
 */
import { rm } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import { buildExampleServer, type ExampleEnv } from '../../examples/server.js'
import type { OidcProviderOptions, SigningAlgorithm } from '../../lib/index.js'
import { exampleKeysDir } from './example-keys.js'
import { freePort } from './server.js'

export interface ExampleServer {
  app: FastifyInstance
  /** http://127.0.0.1:port, where it listens (the issuer unless env names another ISSUER). */
  issuer: string
  port: number
  /** Closes the server and removes its keys folder (also done at teardown; twice is harmless). */
  close (): Promise<void>
}

/** How an example builds its server from the environment: `buildExampleServer`, `buildCustomLoginServer`. */
export type ExampleBuilder = (env: ExampleEnv, extra: Partial<OidcProviderOptions>) => Promise<{ app: FastifyInstance, close: () => Promise<void> }>

export interface ExampleServerOptions {
  /** The example to start; default the example server (`npm start`). */
  build?: ExampleBuilder
  /** More provider options, as the builder's second argument takes them. */
  provider?: Partial<OidcProviderOptions>
  /** The keys in KEYS_DIR; default the example's four (RS256 first). */
  algorithms?: SigningAlgorithm[]
}

/**
 * Starts the example server with `env` (plus PORT, ISSUER, SECRET_KEY, LOG_LEVEL=silent and a
 * temporary KEYS_DIR, each overridable) on 127.0.0.1. A restart test passes the PORT (and
 * KEYS_DIR) of the server it replaces: same issuer, same keys. Closed at teardown.
 */
export async function startExampleServer (
  t: { teardown (fn: () => unknown): void },
  env: ExampleEnv = {},
  options: ExampleServerOptions = {}
): Promise<ExampleServer> {
  const port = env.PORT === undefined ? await freePort() : Number(env.PORT)
  const issuer = `http://127.0.0.1:${port}`
  const keysDir = await exampleKeysDir(options.algorithms)
  const build = options.build ?? buildExampleServer
  let built: Awaited<ReturnType<ExampleBuilder>>
  try {
    built = await build({
      ISSUER: issuer,
      SECRET_KEY: 'example-secret-'.padEnd(40, 'x'),
      KEYS_DIR: keysDir,
      LOG_LEVEL: 'silent',
      ...env,
      PORT: String(port),
    }, options.provider ?? {})
  } catch (error) {
    await rm(keysDir, { recursive: true, force: true })
    throw error
  }
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await built.close()
    await rm(keysDir, { recursive: true, force: true })
  }
  t.teardown(close)
  await built.app.listen({ port, host: '127.0.0.1' })
  return { app: built.app, issuer, port, close }
}
