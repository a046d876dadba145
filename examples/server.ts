/**
 * The bundled example provider: `npm start`.
 *
 * Embedded defaults: memory store, one signing key per algorithm (RS256, the default signer,
 * PS256, ES256, EdDSA) generated into keys/ on first start (so restarts and several instances
 * started from this folder sign with the same keys), open
 * dynamic registration, and two DEMO users (demo/demo, alice/wonderland) that exist only here.
 *
 * Environment: PORT, HOST, ISSUER, REDIS_URL, REDIS_CLUSTER_NODES, SECRET_KEY, KEYS_DIR,
 * LOG_LEVEL, CODE_TTL, ACCESS_TOKEN_TTL, ID_TOKEN_TTL, REFRESH_TOKEN_TTL, ACCESS_TOKEN_ALG
 * (see .env.example).
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { fileURLToPath } from 'node:url'
import {
  oidcProvider,
  fileKeys,
  staticUsers,
  MemoryStore,
  type OidcProviderOptions,
  type SigningAlgorithm,
  type Store,
} from '../lib/index.js'
import { createRedisStore } from './redis.js'

export interface ExampleEnv {
  [name: string]: string | undefined
}

function seconds (env: ExampleEnv, name: string): number | undefined {
  const value = env[name]
  if (value === undefined || value === '') return undefined
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed <= 0) throw new Error(`${name} must be a positive integer (seconds), got "${value}"`)
  return parsed
}

/** The two demo users. Demo only: never ship plain passwords in real code. */
export const demoUsers = staticUsers([
  {
    username: 'demo',
    password: 'demo',
    sub: 'demo',
    claims: { name: 'Demo User', email: 'demo@example.com', email_verified: true, preferred_username: 'demo' },
  },
  {
    username: 'alice',
    password: 'wonderland',
    sub: 'alice',
    claims: { name: 'Alice Liddell', email: 'alice@example.com', email_verified: true, preferred_username: 'alice' },
  },
])

/** Builds the example server from environment variables (tests call this with their own env). */
export async function buildExampleServer (env: ExampleEnv = process.env): Promise<{ app: FastifyInstance, close: () => Promise<void> }> {
  const port = Number(env.PORT ?? 3000)
  const issuer = env.ISSUER ?? `http://localhost:${port}`
  const app = Fastify({
    logger: { level: env.LOG_LEVEL ?? 'info' },
    // Behind a proxy, set trustProxy so rate limits see the client's IP, not the proxy's.
    trustProxy: env.TRUST_PROXY === 'true',
  })

  let store: Store = new MemoryStore()
  let closeStore = async (): Promise<void> => {}
  if ((env.REDIS_URL ?? '') !== '' || (env.REDIS_CLUSTER_NODES ?? '') !== '') {
    const redis = createRedisStore(env, app.log)
    store = redis.store
    closeStore = redis.close
  }

  const ttl: NonNullable<OidcProviderOptions['ttl']> = {}
  const codeTtl = seconds(env, 'CODE_TTL')
  const accessTokenTtl = seconds(env, 'ACCESS_TOKEN_TTL')
  const idTokenTtl = seconds(env, 'ID_TOKEN_TTL')
  const refreshTokenTtl = seconds(env, 'REFRESH_TOKEN_TTL')
  if (codeTtl !== undefined) ttl.code = codeTtl
  if (accessTokenTtl !== undefined) ttl.accessToken = accessTokenTtl
  if (idTokenTtl !== undefined) ttl.idToken = idTokenTtl
  if (refreshTokenTtl !== undefined) ttl.refreshToken = refreshTokenTtl

  const keysDir = env.KEYS_DIR ?? fileURLToPath(new URL('../keys/', import.meta.url))
  const algorithms: SigningAlgorithm[] = ['RS256', 'PS256', 'ES256', 'EdDSA']
  const accessTokenAlg = env.ACCESS_TOKEN_ALG ?? ''
  if (accessTokenAlg !== '' && !algorithms.includes(accessTokenAlg as SigningAlgorithm)) {
    throw new Error(`ACCESS_TOKEN_ALG must be one of ${algorithms.join(', ')}, got "${accessTokenAlg}"`)
  }
  await app.register(oidcProvider, {
    issuer,
    store,
    // One key per algorithm, RS256 first (the default signer); clients pick their ID token's
    // with id_token_signed_response_alg.
    keys: fileKeys({ dir: keysDir, generateIfMissing: true, algorithms }),
    ...(accessTokenAlg === '' ? {} : { accessTokenSigningAlg: accessTokenAlg as SigningAlgorithm }),
    users: demoUsers,
    ...(env.SECRET_KEY !== undefined && env.SECRET_KEY !== '' ? { cookieSecret: env.SECRET_KEY } : {}),
    registration: {},
    ttl,
  })
  app.addHook('onClose', closeStore)

  // A stand-in relying party callback for trying the flow by hand: it shows the code to copy
  // into the token request (README, "Try it by hand"). Plain text, so nothing is interpreted.
  app.get('/callback', async (request, reply) => {
    const query = request.query as Record<string, string | undefined>
    reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store')
    if (typeof query.error === 'string') return `The provider answered with an error: ${query.error} (${query.error_description ?? ''})\n`
    return `Authorization code (valid ${ttl.code ?? 60} s, single use):\n\n${query.code ?? '(none)'}\n\nstate: ${query.state ?? ''}\niss: ${query.iss ?? ''}\n`
  })
  return { app, close: () => app.close() }
}

async function main (): Promise<void> {
  const { app } = await buildExampleServer()
  // Picks up a rotated key (`keys rotate`) without a restart; the old kid stays published.
  process.on('SIGHUP', () => {
    app.oidc.reloadKeys().then(
      () => app.log.info({ kids: app.oidc.publicKeys().map((key) => key.kid) }, 'signing keys reloaded'),
      (error: unknown) => app.log.error({ err: error }, 'reloading signing keys failed')
    )
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
  }
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
  app.log.info(`OpenID Provider ready: ${app.oidc.issuer}/.well-known/openid-configuration`)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(error)
    process.exit(1)
  })
}
