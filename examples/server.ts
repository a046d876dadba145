/**
 * The bundled example provider: `npm start`.
 *
 * Embedded defaults: memory store, one signing key per algorithm (RS256, the default signer,
 * PS256, ES256, EdDSA) generated into keys/ on first start (so restarts and several instances
 * started from this folder sign with the same keys), open
 * dynamic registration, and two DEMO users (demo/demo, alice/wonderland) that exist only here.
 *
 * Environment: PORT, HOST, ISSUER, STORE, REDIS_URL, REDIS_CLUSTER_NODES, DATABASE_URL,
 * DATABASE_SCHEMA, SECRET_KEY, KEYS_DIR,
 * LOG_LEVEL, TRUST_PROXY, CODE_TTL, ACCESS_TOKEN_TTL, ID_TOKEN_TTL, REFRESH_TOKEN_TTL, DEVICE_CODE_TTL,
 * ACCESS_TOKEN_ALG, METRICS, AUDIT_LOG (see .env.example), read through examples/env.ts: empty means unset, a
 * malformed value stops the start with one line. `npm start` also reads `.env` when it exists.
 *
 * On an http loopback issuer (the default http://localhost:3000) the provider also delivers
 * back-channel logout tokens over plain http to loopback receivers (`outbound.allowHttpLoopback`),
 * so a relying party on the same machine can register `http://localhost:PORT/...` as its
 * `backchannel_logout_uri`. Development only: an https issuer never sets it.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { fileURLToPath } from 'node:url'
import { collectDefaultMetrics } from 'prom-client'
import {
  oidcProvider,
  fileKeys,
  staticUsers,
  MemoryStore,
  MemoryPasskeyStore,
  type OidcProviderOptions,
  type PasskeyStore,
  type SigningAlgorithm,
  type Store,
} from '../lib/index.js'
import { createRedisStore } from './redis.js'
import { createPostgresStore } from './postgres.js'
import { writeAuditLog } from './audit-log.js'
import { envVar, loadDotEnv, readCommonEnv, runExample, type CommonEnv, type ExampleEnv } from './env.js'

export type { ExampleEnv } from './env.js'

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

/** Whether the issuer is plain http on a loopback host (a developer's machine). */
function isHttpLoopback (issuer: string): boolean {
  const { protocol, hostname } = new URL(issuer)
  return protocol === 'http:' && (hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname))
}

/** Builds the example server from environment variables (tests call this with their own env). */
export async function buildExampleServer (
  env: ExampleEnv = process.env,
  /** More provider options (the example API adds its resource server). */
  extra: Partial<OidcProviderOptions> = {}
): Promise<{ app: FastifyInstance, close: () => Promise<void>, config: CommonEnv }> {
  // Every variable is checked before anything starts: a malformed one is an EnvError (one line).
  const config = readCommonEnv(env)
  const codeTtl = envVar.seconds(env, 'CODE_TTL')
  const accessTokenTtl = envVar.seconds(env, 'ACCESS_TOKEN_TTL')
  const idTokenTtl = envVar.seconds(env, 'ID_TOKEN_TTL')
  const refreshTokenTtl = envVar.seconds(env, 'REFRESH_TOKEN_TTL')
  const deviceCodeTtl = envVar.seconds(env, 'DEVICE_CODE_TTL')
  const issuer = config.issuer
  const app = Fastify({
    logger: { level: config.logLevel },
    // Behind a proxy, set trustProxy so rate limits see the client's IP, not the proxy's.
    trustProxy: config.trustProxy,
  })

  let store: Store = new MemoryStore()
  let passkeys: PasskeyStore = new MemoryPasskeyStore()
  let closeStore = async (): Promise<void> => {}
  if (config.store === 'redis') {
    const redis = createRedisStore(env, app.log)
    store = redis.store
    passkeys = redis.passkeys
    closeStore = redis.close
  } else if (config.store === 'postgres') {
    const postgres = createPostgresStore(config, app.log)
    store = postgres.store
    passkeys = postgres.passkeys
    closeStore = postgres.close
  }

  const ttl: NonNullable<OidcProviderOptions['ttl']> = {}
  if (codeTtl !== undefined) ttl.code = codeTtl
  if (accessTokenTtl !== undefined) ttl.accessToken = accessTokenTtl
  if (idTokenTtl !== undefined) ttl.idToken = idTokenTtl
  if (refreshTokenTtl !== undefined) ttl.refreshToken = refreshTokenTtl
  if (deviceCodeTtl !== undefined) ttl.deviceCode = deviceCodeTtl

  const keysDir = config.keysDir ?? fileURLToPath(new URL('../keys/', import.meta.url))
  const algorithms: SigningAlgorithm[] = ['RS256', 'PS256', 'ES256', 'EdDSA']
  const accessTokenAlg = envVar.oneOf(env, 'ACCESS_TOKEN_ALG', algorithms)
  const metrics = envVar.boolean(env, 'METRICS') ?? false
  const auditLog = envVar.string(env, 'AUDIT_LOG')
  // An ISSUER with a path (https://example.com/oidc) mounts the provider under it, as every URL in
  // discovery names it, like the MCP example; the metadata is also answered path-inserted at the
  // host's root (RFC 8414 §3.1).
  const prefix = new URL(issuer).pathname.replace(/\/+$/, '')
  await app.register(oidcProvider, {
    issuer,
    ...(prefix === '' ? {} : { prefix }),
    store,
    // One key per algorithm, RS256 first (the default signer); clients pick their ID token's
    // with id_token_signed_response_alg.
    keys: fileKeys({ dir: keysDir, generateIfMissing: true, algorithms }),
    ...(accessTokenAlg === undefined ? {} : { accessTokenSigningAlg: accessTokenAlg }),
    users: demoUsers,
    // Passkeys for the demo users: offered after a password sign-in, then "Sign in with a
    // passkey" and autofill on the login page. WebAuthn needs a domain: the default issuer
    // http://localhost:3000 works in browsers; an IP address does not.
    passkeys: { store: passkeys },
    // /account: the signed-in user's connected apps and sessions, each revocable (issue 30).
    accountPage: true,
    ...(config.secretKey === undefined ? {} : { cookieSecret: config.secretKey }),
    registration: {},
    ttl,
    // /health/live and /health/ready (the Dockerfile's HEALTHCHECK asks readiness).
    health: { route: '/health' },
    // METRICS=true: Prometheus text at /metrics. Behind a proxy, keep /metrics off the public side.
    ...(metrics ? { metrics: { route: '/metrics' } } : {}),
    // Development only: an http issuer on this machine (npm start's http://localhost:3000)
    // delivers back-channel logout tokens to relying parties on http loopback too; registration
    // accepts exactly those URIs (one rule with the fetcher). An https issuer keeps https only.
    ...(isHttpLoopback(issuer) ? { outbound: { allowHttpLoopback: true } } : {}),
    ...extra,
  })
  app.addHook('onClose', closeStore)
  // AUDIT_LOG=path: every security event as one JSON line (docs/audit-events.md).
  if (auditLog !== undefined) app.addHook('onClose', writeAuditLog(app.oidc, auditLog, app.log))
  // The process's own metrics (CPU, RSS, heap, event-loop lag) beside the provider's.
  const registry = app.oidc.metrics?.registry
  if (registry !== undefined) collectDefaultMetrics({ register: registry })

  // A stand-in relying party callback for trying the flow by hand: it shows the code to copy
  // into the token request (docs/getting-started.md, "Try it by hand"). Plain text, so nothing is interpreted.
  app.get('/callback', async (request, reply) => {
    const query = request.query as Record<string, string | undefined>
    reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store')
    if (typeof query.error === 'string') return `The provider answered with an error: ${query.error} (${query.error_description ?? ''})\n`
    return `Authorization code (valid ${ttl.code ?? 60} s, single use):\n\n${query.code ?? '(none)'}\n\nstate: ${query.state ?? ''}\niss: ${query.iss ?? ''}\n`
  })
  return { app, close: () => app.close(), config }
}

async function main (): Promise<void> {
  // `.env` (copied from .env.example) when it exists; the environment wins over the file.
  loadDotEnv()
  const { app, config } = await buildExampleServer()
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
  await app.listen({ port: config.port, host: config.host })
  app.log.info(`OpenID Provider ready: ${app.oidc.issuer}/.well-known/openid-configuration`)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  runExample('example server', main)
}
