/**
 * `npm run bench`: every scenario in one run, one JSON line per scenario on stdout, then one
 * `summary` line with the ratios against the baselines and whether each target is met.
 * Progress and the servers' own logs go to stderr.
 *
 * Environment: BENCH_DURATION (seconds per scenario, default 5), BENCH_CONNECTIONS (default 32),
 * REDIS_URL (default: a private redis-server the bench starts, else redis://127.0.0.1:6379),
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; the run works in a schema of
 * its own, dropped at the end), BENCH_ONLY (comma-separated groups: baselines, bare, memory,
 * redis, postgres, memory-rss, algorithms),
 * BENCH_CPU_PROF (1 or a folder: V8 CPU profiles of every server, see bench/profile-summary.ts).
 */
import { Redis } from 'ioredis'
import { cpus } from 'node:os'
import { runForMessage, startChild, type ChildServer } from './lib/child.js'
import { cannon } from './lib/cannon.js'
import { joseSignatures, scryptVerify } from './lib/baselines.js'
import {
  clientCredentialsAlgScenario,
  clientCredentialsScenario,
  introspectionScenario,
  loginFlowScenario,
  userinfoScenario,
  ssoFlowAlgScenario,
  ssoFlowScenario,
  ssoRedisCommands,
  ssoPostgresStatements,
  staticDocumentScenarios,
  type RunSettings,
  type Target,
} from './lib/scenarios.js'
import type { ScenarioResult } from './lib/stats.js'
import { ratios, type Ratio } from './lib/ratios.js'
import { redisStoreClass } from './lib/redis-store.js'
import { benchRedis, type BenchRedis } from './lib/redis-server.js'
import { benchDatabaseUrl, benchPostgres, statementsSent } from './lib/postgres.js'

const settings: RunSettings = {
  durationSec: Number(process.env.BENCH_DURATION ?? 5),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 32),
}
const only = new Set((process.env.BENCH_ONLY ?? '').split(',').filter((group) => group !== ''))
const wanted = (group: string): boolean => only.size === 0 || only.has(group)
let redisUrl = 'redis://127.0.0.1:6379'
const runId = `${process.pid}-${Date.now().toString(36)}`

const results: Array<ScenarioResult | Record<string, unknown>> = []

function emit (line: ScenarioResult | Record<string, unknown>): void {
  results.push(line)
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

function progress (message: string): void {
  process.stderr.write(`bench: ${message}\n`)
}

/**
 * Starts the provider with the memory store and, when Redis and RedisStore are there, with the
 * Redis store, both at once: each scenario then runs on one and right after on the other, so
 * the two numbers of a pair see the same machine (this machine is shared and its load moves).
 */
async function startProviders (): Promise<{ targets: Target[], prefix?: string, postgres?: ChildServer, close: () => Promise<void> }> {
  const children: ChildServer[] = []
  const targets: Target[] = []
  const cleanups: Array<() => Promise<void>> = []
  const memory = await startChild('server.ts', { BENCH_STORE: 'memory' })
  children.push(memory)
  targets.push({ store: 'memory', origin: memory.origin, cpuMs: memory.cpuMs })
  const redis = wanted('redis') ? await redisAvailable() : { reason: 'not selected (BENCH_ONLY)' }
  const prefix = `bench:${runId}:`
  if ('client' in redis) {
    const child = await startChild('server.ts', { BENCH_STORE: 'redis', REDIS_URL: redisUrl, BENCH_PREFIX: prefix })
    children.push(child)
    targets.push({ store: 'redis', origin: child.origin, cpuMs: child.cpuMs })
    cleanups.push(async () => {
      const deleted = await deleteKeys(redis.client, prefix)
      progress(`redis: deleted ${deleted} keys under ${prefix}`)
      await redis.client.quit()
    })
  } else {
    progress(`redis variants skipped: ${redis.reason}`)
    for (const scenario of ['client_credentials', 'introspection', 'userinfo', 'sso-code-flow', 'login-flow']) {
      emit({ scenario, store: 'redis', skipped: true, reason: redis.reason })
    }
  }
  // Issue 27: the PostgreSQL store; its target's CPU is the provider's plus its backends'.
  const postgres = wanted('postgres') ? await benchPostgres(runId) : { reason: 'not selected (BENCH_ONLY)' }
  let postgresChild: ChildServer | undefined
  if ('schema' in postgres) {
    postgresChild = await startChild('server.ts', {
      BENCH_STORE: 'postgres', DATABASE_URL: benchDatabaseUrl, BENCH_SCHEMA: postgres.schema, BENCH_APPLICATION_NAME: postgres.applicationName,
    })
    children.push(postgresChild)
    const child = postgresChild
    targets.push({ store: 'postgres', origin: child.origin, cpuMs: async () => await child.cpuMs() + await postgres.backendsCpuMs() })
    cleanups.push(async () => { await postgres.drop() })
  } else {
    progress(`postgres variants skipped: ${postgres.reason}`)
    for (const scenario of ['client_credentials', 'sso-code-flow']) emit({ scenario, store: 'postgres', skipped: true, reason: postgres.reason })
  }
  return {
    targets,
    ...('client' in redis ? { prefix } : {}),
    ...(postgresChild === undefined ? {} : { postgres: postgresChild }),
    close: async () => {
      for (const child of children) await child.close()
      for (const cleanup of cleanups) await cleanup()
    },
  }
}

/** Deletes every key under the run's prefix; returns how many there were. */
async function deleteKeys (client: Redis, prefix: string): Promise<number> {
  let deleted = 0
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) deleted += await client.unlink(...keys)
  } while (cursor !== '0')
  return deleted
}

async function redisAvailable (): Promise<{ client: Redis } | { reason: string }> {
  if (await redisStoreClass() === undefined) return { reason: 'RedisStore is not exported by lib/index.ts yet' }
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null })
  try {
    await client.connect()
    await client.ping()
    return { client }
  } catch (error) {
    client.disconnect()
    return { reason: `no Redis at ${redisUrl} (${error instanceof Error ? error.message : String(error)})` }
  }
}

async function bareFastify (): Promise<void> {
  progress('bare Fastify route')
  const child = await startChild('server.ts', { BENCH_MODE: 'bare' })
  try {
    emit(await cannon({
      scenario: 'bare-fastify',
      url: `${child.origin}/`,
      serverCpuMs: child.cpuMs,
      verifyBody: (body) => body === '{"hello":"world"}',
      connections: settings.connections,
      durationSec: settings.durationSec,
    }))
  } finally {
    await child.close()
  }
}

/**
 * client_credentials tokens per second with each signing algorithm: one memory-store server per
 * algorithm (BENCH_ALG), one after the other, so each runs alone on the machine.
 */
async function algorithmScenarios (): Promise<void> {
  for (const alg of ['RS256', 'PS256', 'ES256', 'EdDSA']) {
    progress(`client_credentials signed ${alg}${alg === 'PS256' ? '' : ', and the SSO code flow'}`)
    const child = await startChild('server.ts', { BENCH_STORE: 'memory', BENCH_ALG: alg })
    try {
      const target: Target = { store: 'memory', origin: child.origin, cpuMs: child.cpuMs }
      emit({ ...await clientCredentialsAlgScenario(target, settings, alg), alg })
      // Issue 19: the SSO flow with ES256 and EdDSA keys against RS256, each on its own server.
      if (alg !== 'PS256') emit(await ssoFlowAlgScenario(target, settings, runId, alg))
    } finally {
      await child.close()
    }
  }
}

async function joseConcurrent (round: number): Promise<void> {
  emit({ ...await joseSignatures(settings.connections, settings.durationSec * 1000), round })
}

async function memoryRss (): Promise<void> {
  progress('memory: 100k issues into the MemoryStore, then expiry')
  emit(await runForMessage('memory.ts', ['--expose-gc']))
}

function machine (): Record<string, unknown> {
  return {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    durationSec: settings.durationSec,
    connections: settings.connections,
  }
}

async function main (): Promise<void> {
  progress(`machine ${JSON.stringify(machine())}`)
  let redisServer: BenchRedis | undefined
  if (wanted('redis')) {
    redisServer = await benchRedis()
    redisUrl = redisServer.url
    progress(`redis: ${redisServer.private ? 'a private redis-server at ' : ''}${redisUrl}`)
  }
  const providers = wanted('memory') || wanted('redis') || wanted('postgres') ? await startProviders() : undefined
  try {
    // Each ratio's two sides are measured close together: jose, then the signing endpoints,
    // then jose again (the ratios use the mean of both jose runs).
    if (wanted('baselines')) {
      progress('jose RS256 signatures, sequential and concurrent')
      emit(await joseSignatures(1, settings.durationSec * 1000))
      await joseConcurrent(1)
    }
    if (providers !== undefined) {
      const [first] = providers.targets
      progress('client_credentials and SSO code flow')
      for (const target of providers.targets) emit(await clientCredentialsScenario(target, settings))
      for (const target of providers.targets) emit(await ssoFlowScenario(target, settings, runId))
      const redisTarget = providers.targets.find((target) => target.store === 'redis')
      if (redisTarget !== undefined && providers.prefix !== undefined) {
        progress('Redis commands per SSO flow (INFO commandstats and MONITOR, 100 flows alone)')
        emit(await ssoRedisCommands(redisTarget, runId, { url: redisUrl, prefix: providers.prefix }))
      }
      const postgresTarget = providers.targets.find((target) => target.store === 'postgres')
      if (postgresTarget !== undefined && providers.postgres !== undefined) {
        progress('PostgreSQL statements per SSO flow (the driver\'s count, 100 flows alone)')
        const child = providers.postgres
        emit(await ssoPostgresStatements(postgresTarget, runId, async () => await statementsSent(child)))
      }
      if (wanted('baselines')) await joseConcurrent(2)
      if (wanted('bare')) await bareFastify()
      progress('discovery and JWKS')
      for (const result of await staticDocumentScenarios(first!, settings)) emit(result)
      progress('introspection and userinfo')
      for (const target of providers.targets) emit(await introspectionScenario(target, settings))
      for (const target of providers.targets) emit(await userinfoScenario(target, settings, runId))
      progress('login flow')
      for (const target of providers.targets) emit(await loginFlowScenario(target, settings, runId))
    } else if (wanted('bare')) {
      await bareFastify()
    }
  } finally {
    await providers?.close()
    await redisServer?.stop()
  }
  if (wanted('baselines')) {
    progress('scrypt verify (staticUsers, default cost)')
    emit(await scryptVerify(4, Math.min(settings.durationSec, 4) * 1000))
  }
  if (wanted('algorithms')) await algorithmScenarios()
  if (wanted('memory-rss')) await memoryRss()

  const computed: Ratio[] = ratios(results)
  const invalid = results.filter((result) => result.valid === false).map((result) => `${String(result.scenario)}${result.store === undefined ? '' : `/${String(result.store)}`}`)
  emit({
    summary: true,
    machine: machine(),
    redis: redisServer === undefined ? 'not used' : redisServer.private ? 'private redis-server' : redisUrl,
    ratios: computed,
    targetsMet: computed.filter((ratio) => ratio.met === true).length,
    targetsMissed: computed.filter((ratio) => ratio.met === false).map((ratio) => ratio.name),
    invalidScenarios: invalid,
  })
  for (const ratio of computed) {
    const beside = ratio.basis === 'cpu' ? `, throughput ${ratio.throughputValue ?? 'n/a'}` : ratio.basis === 'throughput' && ratio.cpuValue !== undefined ? `, by CPU ${ratio.cpuValue ?? 'n/a'}` : ''
    const sides = ratio.sides === undefined ? '' : ` [${Object.entries(ratio.sides).map(([key, value]) => `${key} ${value ?? 'n/a'}`).join(', ')}]`
    progress(`${ratio.met === undefined ? 'n/a ' : ratio.met ? 'MET ' : 'MISS'} ${ratio.name}: ${ratio.value ?? 'n/a'}${beside} (target ${ratio.target})${sides}`)
  }
  if (invalid.length > 0) {
    progress(`INVALID (non-2xx or errors): ${invalid.join(', ')}`)
    process.exitCode = 1
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
