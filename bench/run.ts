/**
 * `npm run bench`: every scenario in one run, one JSON line per scenario on stdout, then one
 * `summary` line with the ratios against the baselines and whether each target is met.
 * Progress and the servers' own logs go to stderr.
 *
 * Environment: BENCH_DURATION (seconds per scenario, default 5), BENCH_CONNECTIONS (default 32),
 * REDIS_URL (default redis://127.0.0.1:6379), BENCH_ONLY (comma-separated groups: baselines,
 * bare, memory, redis, memory-rss).
 */
import { Redis } from 'ioredis'
import { cpus } from 'node:os'
import { startChild, type ChildServer } from './lib/child.js'
import { cannon } from './lib/cannon.js'
import { joseSignatures, scryptVerify } from './lib/baselines.js'
import {
  endpointScenarios,
  loginFlowScenario,
  signedInUserToken,
  ssoFlowScenario,
  staticDocumentScenarios,
  type RunSettings,
  type StoreName,
} from './lib/scenarios.js'
import type { ScenarioResult } from './lib/stats.js'
import { ratios, type Ratio } from './lib/ratios.js'
import { redisStoreClass } from './lib/redis-store.js'

const settings: RunSettings = {
  durationSec: Number(process.env.BENCH_DURATION ?? 5),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 32),
}
const only = new Set((process.env.BENCH_ONLY ?? '').split(',').filter((group) => group !== ''))
const wanted = (group: string): boolean => only.size === 0 || only.has(group)
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const runId = `${process.pid}-${Date.now().toString(36)}`

const results: Array<ScenarioResult | Record<string, unknown>> = []

function emit (line: ScenarioResult | Record<string, unknown>): void {
  results.push(line)
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

function progress (message: string): void {
  process.stderr.write(`bench: ${message}\n`)
}

async function withChild<T> (script: string, env: Record<string, string>, body: (child: ChildServer) => Promise<T>): Promise<T> {
  const child = await startChild(script, env)
  try {
    return await body(child)
  } finally {
    await child.close()
  }
}

async function providerScenarios (store: StoreName, env: Record<string, string>): Promise<void> {
  await withChild('server.ts', { BENCH_STORE: store, ...env }, async ({ origin }) => {
    if (store === 'memory') {
      progress('discovery and JWKS')
      for (const result of await staticDocumentScenarios(origin, settings)) emit(result)
    }
    progress(`${store}: client_credentials, introspection, userinfo`)
    const userToken = await signedInUserToken(origin, `user-info-${runId}`)
    for (const result of await endpointScenarios(origin, store, settings, userToken)) emit(result)
    progress(`${store}: SSO code flow`)
    emit(await ssoFlowScenario(origin, store, settings, runId))
    progress(`${store}: login flow`)
    emit(await loginFlowScenario(origin, store, settings, runId))
  })
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

async function redisScenarios (): Promise<void> {
  const skip = (reason: string): void => {
    progress(`redis variants skipped: ${reason}`)
    for (const scenario of ['client_credentials', 'introspection', 'userinfo', 'sso-code-flow', 'login-flow']) {
      emit({ scenario, store: 'redis', skipped: true, reason })
    }
  }
  if (await redisStoreClass() === undefined) return skip('RedisStore is not exported by lib/index.ts yet')
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null })
  try {
    await client.connect()
    await client.ping()
  } catch (error) {
    client.disconnect()
    return skip(`no Redis at ${redisUrl} (${error instanceof Error ? error.message : String(error)})`)
  }
  const prefix = `bench:${runId}:`
  try {
    await providerScenarios('redis', { REDIS_URL: redisUrl, BENCH_PREFIX: prefix })
  } finally {
    const deleted = await deleteKeys(client, prefix)
    progress(`redis: deleted ${deleted} keys under ${prefix}`)
    await client.quit()
  }
}

async function memoryRss (): Promise<void> {
  progress('memory: 100k issues into the MemoryStore, then expiry')
  const child = await startChild('memory.ts', {}, ['--expose-gc'])
  const result = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.process.on('message', (message) => resolve(message as Record<string, unknown>))
    child.process.once('exit', (code) => reject(new Error(`memory.ts exited with ${String(code)}`)))
  })
  await child.close()
  emit(result)
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
  if (wanted('baselines')) {
    progress('jose RS256 signatures, sequential and concurrent')
    emit(await joseSignatures(1, settings.durationSec * 1000))
    emit(await joseSignatures(settings.connections, settings.durationSec * 1000))
    progress('scrypt verify (staticUsers, default cost)')
    emit(await scryptVerify(4, Math.min(settings.durationSec, 4) * 1000))
  }
  if (wanted('bare')) {
    progress('bare Fastify route')
    await withChild('server.ts', { BENCH_MODE: 'bare' }, async ({ origin }) => {
      emit(await cannon({
        scenario: 'bare-fastify',
        url: `${origin}/`,
        verifyBody: (body) => body === '{"hello":"world"}',
        connections: settings.connections,
        durationSec: settings.durationSec,
      }))
    })
  }
  if (wanted('memory')) await providerScenarios('memory', {})
  if (wanted('redis')) await redisScenarios()
  if (wanted('memory-rss')) await memoryRss()

  const computed: Ratio[] = ratios(results)
  const invalid = results.filter((result) => result.valid === false).map((result) => `${String(result.scenario)}${result.store === undefined ? '' : `/${String(result.store)}`}`)
  emit({
    summary: true,
    machine: machine(),
    ratios: computed,
    targetsMet: computed.filter((ratio) => ratio.met === true).length,
    targetsMissed: computed.filter((ratio) => ratio.met === false).map((ratio) => ratio.name),
    invalidScenarios: invalid,
  })
  for (const ratio of computed) {
    progress(`${ratio.met === undefined ? 'n/a ' : ratio.met ? 'MET ' : 'MISS'} ${ratio.name}: ${ratio.value ?? 'n/a'} (target ${ratio.target})`)
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
