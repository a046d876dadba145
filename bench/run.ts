/**
 * `npm run bench`: the real app's scenario. The example server as `npm start` builds it
 * (examples/server.ts through tsx, a process tree of its own, LOG_LEVEL=warn), clients registered
 * through /register, the demo users; on memory, Redis and PostgreSQL. Server CPU per operation is
 * the provider's whole process tree plus the store server's processes (redis-server; the
 * PostgreSQL backends of the provider's connections). Baselines in the same run: jose
 * signatures, a bare Fastify route, node-oidc-provider's SSO flow, store commands / statements
 * per operation. One JSON line per scenario on stdout, then one `summary` line with the ratios
 * of issue 32 and whether each target is met; progress and the servers' logs go to stderr.
 *
 * Environment: BENCH_DURATION (seconds per scenario, default 5), BENCH_CONNECTIONS (default 32), BENCH_ROUNDS (interleaved rounds of the compared lines, default 3),
 * REDIS_URL (default: a private redis-server the bench starts, else redis://127.0.0.1:6379),
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; the run works in a schema of
 * its own, dropped at the end), BENCH_ONLY (comma-separated groups: baselines, bare, node-oidc,
 * memory, redis, postgres, algorithms, memory-rss),
 * BENCH_CPU_PROF (1 or a folder: V8 CPU profiles of every server, see bench/profile-summary.ts).
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { runForMessage, startChild } from './lib/child.js'
import { cannon } from './lib/cannon.js'
import { joseSignatures, scryptVerify } from './lib/baselines.js'
import { startExample, type ExampleServer } from './lib/example.js'
import { startNodeOidc } from './lib/node-oidc.js'
import { countingRelay, type CountingRelay } from './lib/pg-proxy.js'
import { processesCpuMs } from './lib/proc.js'
import {
  clientCredentialsScenario,
  countedOperations,
  introspectionScenario,
  loginFlowScenario,
  prepareTarget,
  refreshScenario,
  ssoFlowScenario,
  staticDocumentScenarios,
  userinfoScenario,
  type RunSettings,
  type Target,
} from './lib/scenarios.js'
import type { ScenarioResult } from './lib/stats.js'
import { ratios, type Ratio } from './lib/ratios.js'
import { benchRedis, countCommands, redisServerPid, type BenchRedis } from './lib/redis-server.js'
import { benchDatabaseUrl, benchPostgres } from './lib/postgres.js'

const settings: RunSettings = {
  durationSec: Number(process.env.BENCH_DURATION ?? 5),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 32),
}
const groups = ['baselines', 'bare', 'node-oidc', 'memory', 'redis', 'postgres', 'algorithms', 'memory-rss']
const only = new Set((process.env.BENCH_ONLY ?? '').split(',').map((group) => group.trim()).filter((group) => group !== ''))
for (const group of only) {
  if (groups.includes(group)) continue
  process.stderr.write(`bench: BENCH_ONLY: unknown group "${group}" (groups: ${groups.join(', ')})\n`)
  process.exit(1)
}
const wanted = (group: string): boolean => only.size === 0 || only.has(group)
const runId = `${process.pid}-${Date.now().toString(36)}`
/** RedisStore's default key prefix (the example does not set one). */
const redisPrefix = 'oidc:'

const results: Array<ScenarioResult | Record<string, unknown>> = []

function emit (line: ScenarioResult | Record<string, unknown>): void {
  results.push(line)
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

function progress (message: string): void {
  process.stderr.write(`bench: ${message}\n`)
}

/** What every example server of the run shares: one keys folder (generated at the first start) and one SECRET_KEY. */
interface ExampleEnv { KEYS_DIR: string, SECRET_KEY: string }

interface Providers {
  targets: Target[]
  /** How to count the store traffic of an operation on a target. */
  counters: Map<string, (operations: number, run: () => Promise<void>) => Promise<Record<string, unknown>>>
  /** Where a store's traffic is counted, when not on its measured target (PostgreSQL: behind the relay). */
  countTargets: Map<string, Target>
  close: () => Promise<void>
}

/**
 * Starts the example server on each selected store, all at once: each scenario then runs on one
 * and right after on the others, so the numbers of a comparison see the same machine (this
 * machine is shared and its load moves).
 */
async function startProviders (base: ExampleEnv, redisServer: BenchRedis | undefined): Promise<Providers> {
  const servers: ExampleServer[] = []
  const targets: Target[] = []
  const counters: Providers['counters'] = new Map()
  const countTargets: Providers['countTargets'] = new Map()
  const cleanups: Array<() => Promise<void>> = []
  const providers: Providers = {
    targets,
    counters,
    countTargets,
    close: async () => {
      for (const server of servers) await server.close()
      for (const cleanup of cleanups) await cleanup()
    },
  }
  try {
    if (wanted('memory')) {
      const server = await startExample({ ...base, STORE: 'memory', REDIS_URL: '' })
      servers.push(server)
      targets.push(await prepareTarget(server, 'memory', async () => ({ provider: await server.cpuMs() })))
    }
    if (wanted('redis') && redisServer !== undefined) {
      const url = redisServer.url
      const pid = redisServer.pid ?? await redisServerPid(url).catch(() => undefined)
      const server = await startExample({ ...base, STORE: 'redis', REDIS_URL: url })
      servers.push(server)
      targets.push(await prepareTarget(server, 'redis', async () => ({
        provider: await server.cpuMs(),
        ...(pid === undefined ? {} : { 'redis-server': await processesCpuMs([pid]) }),
      })))
      if (pid === undefined) progress('redis: redis-server\'s pid is unknown, its CPU is not counted')
      counters.set('redis', async (operations, run) => {
        const count = await countCommands(url, redisPrefix, operations, run)
        return { commandsPerOp: count.sentPerOp, executedPerOp: count.executedPerOp, sent: count.sent, executed: count.executed, operations }
      })
    }
    if (wanted('postgres')) {
      const postgres = await benchPostgres(runId)
      if ('schema' in postgres) {
        cleanups.push(async () => { await postgres.drop() })
        // The measured server talks to PostgreSQL directly; the backends are found by the
        // application_name the connection string gives them.
        const direct = new URL(benchDatabaseUrl)
        direct.searchParams.set('application_name', postgres.applicationName)
        const env = { ...base, STORE: 'postgres', REDIS_URL: '', DATABASE_SCHEMA: postgres.schema }
        const server = await startExample({ ...env, DATABASE_URL: direct.href })
        servers.push(server)
        targets.push(await prepareTarget(server, 'postgres', async () => ({
          provider: await server.cpuMs(),
          'postgres-backends': await postgres.backendsCpuMs(),
        })))
        // Statements are counted on a second example server, on the same database, whose pool
        // goes through a counting relay (bench/lib/pg-proxy.ts). Not the measured one: the relay
        // runs in this process and re-chunks the traffic, which added a third to the provider's
        // CPU per SSO flow (3.6 against 2.5-2.7 ms on this VM).
        const relay: CountingRelay = await countingRelay(benchDatabaseUrl)
        cleanups.push(relay.close)
        const counted = await startExample({ ...env, DATABASE_URL: relay.url })
        servers.push(counted)
        countTargets.set('postgres', await prepareTarget(counted, 'postgres', async () => ({ provider: await counted.cpuMs() })))
        counters.set('postgres', async (operations, run) => {
          const before = relay.statements()
          const textsBefore = relay.byText()
          for (let i = 0; i < operations; i++) await run()
          const statements: Record<string, number> = {}
          for (const [text, count] of relay.byText()) {
            const delta = count - (textsBefore.get(text) ?? 0)
            // The run's schema name adds nothing to the reader.
            if (delta > 0) statements[text.replaceAll(`"${postgres.schema}".`, '')] = round2(delta / operations)
          }
          return { statementsPerOp: round2((relay.statements() - before) / operations), statements, operations }
        })
      } else {
        progress(`postgres variants skipped: ${postgres.reason}`)
        emit({ scenario: 'postgres', skipped: true, reason: postgres.reason })
      }
    }
  } catch (error) {
    await providers.close()
    throw error
  }
  return providers
}

const round2 = (value: number): number => Math.round(value * 100) / 100

/** BENCH-ONLY server: a bare Fastify route (bench/server.ts), the framework's floor. */
/** BENCH-ONLY server: a bare Fastify route (bench/server.ts), the framework's floor; one measured run. */
async function bareRoute (child: { origin: string, cpuMs: () => Promise<number> }, run: RunSettings): Promise<ScenarioResult> {
  return {
    ...await cannon({
      scenario: 'bare-fastify',
      url: `${child.origin}/`,
      serverCpuMs: child.cpuMs,
      verifyBody: (body) => body === '{"hello":"world"}',
      connections: run.connections,
      durationSec: run.durationSec,
    }),
    baseline: true,
    note: 'BENCH-ONLY server (bench/server.ts): Fastify with one GET / route, logger at warn',
  }
}

/** BENCH_ROUNDS: how many measured rounds the compared lines run in (default 3), after one warm-up round. */
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3))

/**
 * Runs `measure` once to warm up, then `rounds` times, and emits each of its lines (scenario and
 * store) once: the measured round with the median server CPU per operation, every measured
 * round's value beside it (`rounds`) and the warm-up's (`warmUpRound`). The lines of a ratio take
 * turns within each round, so a change of the machine's pace (this VM's moves by more than the
 * 15 % two runs must agree within) falls on both sides, and one slow round does not decide. The
 * first round after the servers start is not counted: in two runs it cost 15-80 % more than
 * the next two on every flow line (ours and node-oidc-provider's alike: V8's optimizing
 * compiler, on threads of the measured process, still at work after each scenario's warm-up).
 */
async function emitMedianRounds (measure: () => Promise<ScenarioResult[]>): Promise<void> {
  const byLine = new Map<string, ScenarioResult[]>()
  const warmUp = new Map<string, number>()
  const key = (result: ScenarioResult): string => `${result.scenario}/${result.store ?? ''}`
  for (const result of await measure()) warmUp.set(key(result), cpuPerOp(result))
  for (let round = 0; round < rounds; round++) {
    for (const result of await measure()) byLine.set(key(result), [...byLine.get(key(result)) ?? [], result])
  }
  for (const [line, results] of byLine) emit({ ...medianRound(results), warmUpRound: warmUp.get(line) })
}

/**
 * The cheap routes and the bare route they are judged against (discovery, JWKS, userinfo and
 * introspection on memory), and userinfo and introspection on the other stores, in interleaved
 * rounds of `BENCH_DURATION / 2` s. One 5 s run each, minutes apart, let the server's own
 * background work (the memory store's sweep and the GC of everything the SSO scenarios left)
 * fall on one side of a ratio: two consecutive runs put discovery at 0.96 and 1.69 x the bare
 * route, introspection at 2.2 and 3.7 x.
 */
async function readRoutes (targets: Target[]): Promise<void> {
  const memory = targets.find((target) => target.store === 'memory')
  const run: RunSettings = { ...settings, durationSec: Math.max(2, Math.ceil(settings.durationSec / 2)) }
  progress(`bare route${memory === undefined ? '' : ', discovery, JWKS'}${targets.length === 0 ? '' : `, introspection and userinfo on ${targets.map((target) => target.store).join(', ')}`}: ${rounds} interleaved rounds of ${run.durationSec} s after one to warm up`)
  const child = wanted('bare') ? await startChild('server.ts', {}) : undefined
  try {
    await emitMedianRounds(async () => {
      const measured: ScenarioResult[] = []
      if (child !== undefined) measured.push(await bareRoute(child, run))
      if (memory !== undefined) measured.push(...await staticDocumentScenarios(memory, run))
      for (const target of targets) measured.push(await introspectionScenario(target, run))
      for (const target of targets) measured.push(await userinfoScenario(target, run))
      return measured
    })
  } finally {
    await child?.close()
  }
}

/**
 * client_credentials and the SSO flow on every store, and node-oidc-provider's SSO flow, in
 * interleaved rounds of `BENCH_DURATION * 0.6` s (3 s by default). Measured once each for
 * 5 s, two consecutive runs of the same code disagreed by 38 % on PostgreSQL's SSO flow and by
 * 55 % on node-oidc-provider's, minutes apart on an otherwise idle machine.
 */
async function flowsOnEveryStore (targets: Target[]): Promise<void> {
  const run: RunSettings = { ...settings, durationSec: Math.max(2, Math.ceil(settings.durationSec * 0.6)) }
  progress(`client_credentials and SSO code flow on ${targets.map((target) => target.store).join(', ')}${wanted('node-oidc') ? ', node-oidc-provider\'s SSO flow' : ''}: ${rounds} interleaved rounds of ${run.durationSec} s after one to warm up`)
  const nodeOidc = wanted('node-oidc') ? await startNodeOidc(settings.connections) : undefined
  try {
    await emitMedianRounds(async () => {
      const measured: ScenarioResult[] = []
      for (const target of targets) measured.push(await clientCredentialsScenario(target, run))
      for (const target of targets) measured.push(await ssoFlowScenario(target, run))
      if (nodeOidc !== undefined) measured.push(await nodeOidc.ssoFlow(run))
      return measured
    })
  } finally {
    await nodeOidc?.close()
  }
}

/** The round whose server CPU per operation is the median, with every round's value beside it. */
function medianRound (results: ScenarioResult[]): ScenarioResult {
  const sorted = [...results].sort((a, b) => cpuPerOp(a) - cpuPerOp(b))
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!
  return { ...median, valid: results.every((result) => result.valid), rounds: results.map(cpuPerOp) }
}

const cpuPerOp = (result: ScenarioResult): number => Number(result.serverCpuMsPerOp ?? Number.NaN)

/**
 * The example server signing with one algorithm (ACCESS_TOKEN_ALG, and the web app registered
 * with id_token_signed_response_alg): client_credentials, and the SSO flow for ES256 and EdDSA,
 * each server alone on the machine, with that algorithm's jose baseline next to it.
 */
async function algorithmScenarios (base: ExampleEnv): Promise<void> {
  for (const alg of ['ES256', 'EdDSA', 'PS256'] as const) {
    progress(`example server signing ${alg}: client_credentials${alg === 'PS256' ? '' : ' and the SSO code flow'}`)
    if (alg !== 'PS256') emit(await joseSignatures(settings.connections, settings.durationSec * 1000, alg))
    const server = await startExample({ ...base, STORE: 'memory', REDIS_URL: '', ACCESS_TOKEN_ALG: alg })
    try {
      const target = await prepareTarget(server, 'memory', async () => ({ provider: await server.cpuMs() }), { alg })
      emit(await clientCredentialsScenario(target, settings))
      if (alg !== 'PS256') emit(await ssoFlowScenario(target, settings))
    } finally {
      await server.close()
    }
  }
}

async function joseRs256 (round: number): Promise<void> {
  emit({ ...await joseSignatures(settings.connections, settings.durationSec * 1000, 'RS256'), round })
}

async function memoryRss (): Promise<void> {
  progress('memory: 100k issues into the MemoryStore, then expiry (bench-only in-process provider)')
  emit({ ...await runForMessage('memory.ts', ['--expose-gc']), note: 'BENCH-ONLY: bench/memory.ts, an in-process provider with static clients' })
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

/**
 * Store commands (Redis) or statements (PostgreSQL) per operation: 100 of each alone (20 logins:
 * each costs a scrypt), after one that is not counted (nothing that happens once per browser or
 * client is counted).
 */
async function storeCounts (providers: Providers): Promise<void> {
  for (const measured of providers.targets) {
    const counter = providers.counters.get(measured.store)
    if (counter === undefined) continue
    const target = providers.countTargets.get(measured.store) ?? measured
    progress(`${target.store}: store traffic per operation (one at a time)`)
    const { operations, close } = await countedOperations(target)
    try {
      for (const [scenario, run] of Object.entries(operations)) {
        await run()
        emit({ scenario: `${scenario}-store-traffic`, store: target.store, operation: scenario, ...await counter(scenario === 'login-flow' ? 20 : 100, run), valid: true })
      }
    } finally {
      close()
    }
  }
}

/** The run's keys folder, removed at the end whatever happens. */
let keysDir: string | undefined

async function main (): Promise<void> {
  progress(`machine ${JSON.stringify(machine())}`)
  keysDir = await mkdtemp(join(tmpdir(), 'bench-keys-'))
  const base: ExampleEnv = { KEYS_DIR: keysDir, SECRET_KEY: randomBytes(32).toString('base64url') }
  let redisServer: BenchRedis | undefined
  if (wanted('redis')) {
    redisServer = await benchRedis()
    progress(`redis: ${redisServer.private ? 'a private redis-server at ' : 'shared '}${redisServer.url}`)
  }
  const stores = wanted('memory') || wanted('redis') || wanted('postgres')
  const providers = stores ? await startProviders(base, redisServer) : undefined
  try {
    // Each ratio's two sides are measured close together: jose, then the signing endpoints,
    // then jose again (the ratios use the mean of both jose runs).
    if (wanted('baselines')) {
      progress('jose RS256 signatures, sequential and concurrent')
      emit(await joseSignatures(1, settings.durationSec * 1000, 'RS256'))
      await joseRs256(1)
    }
    const flowTargets = providers?.targets ?? []
    if (flowTargets.length > 0 || wanted('node-oidc')) await flowsOnEveryStore(flowTargets)
    if (wanted('baselines')) await joseRs256(2)
    if (wanted('bare') || flowTargets.length > 0) await readRoutes(flowTargets)
    if (providers !== undefined && providers.targets.length > 0) {
      const { targets } = providers
      await storeCounts(providers)
      progress('refresh')
      for (const target of targets) emit(await refreshScenario(target, settings))
      progress('login flow')
      for (const target of targets) emit(await loginFlowScenario(target, settings))
    }
  } finally {
    await providers?.close()
    await redisServer?.stop()
  }
  if (wanted('baselines')) {
    progress('scrypt verify (staticUsers, default cost)')
    emit(await scryptVerify(4, Math.min(settings.durationSec, 4) * 1000))
  }
  if (wanted('algorithms')) await algorithmScenarios(base)
  if (wanted('memory-rss')) await memoryRss()

  const computed: Ratio[] = ratios(results)
  const invalid = results.filter((result) => result.valid === false).map((result) => `${String(result.scenario)}${result.store === undefined ? '' : `/${String(result.store)}`}`)
  emit({
    summary: true,
    machine: machine(),
    scenario: 'examples/server.ts as npm start runs it (tsx, LOG_LEVEL=warn), clients registered through /register, demo users',
    benchOnly: ['bare-fastify (bench/server.ts)', 'memory-100k (bench/memory.ts)'],
    redis: redisServer === undefined ? 'not used' : redisServer.private ? 'private redis-server' : redisServer.url,
    ratios: computed,
    targetsMet: computed.filter((ratio) => ratio.met === true).length,
    targetsMissed: computed.filter((ratio) => ratio.met === false).map((ratio) => ratio.name),
    invalidScenarios: invalid,
  })
  for (const ratio of computed) {
    const sides = ratio.sides === undefined ? '' : ` [${Object.entries(ratio.sides).map(([key, value]) => `${key} ${value ?? 'n/a'}`).join(', ')}]`
    progress(`${ratio.met === undefined ? 'n/a ' : ratio.met ? 'MET ' : 'MISS'} ${ratio.name}: ${ratio.value ?? 'n/a'} (target ${ratio.target})${sides}`)
  }
  // The store traffic per operation, one line each (the JSON lines have the breakdown by statement).
  for (const line of results.filter((result) => String(result.scenario).endsWith('-store-traffic'))) {
    const count = line.store === 'redis'
      ? `${String(line.commandsPerOp)} commands sent (${String(line.executedPerOp)} executed, scripts' included): ${JSON.stringify(line.sent)}`
      : `${String(line.statementsPerOp)} statements`
    progress(`store ${String(line.store)} ${String(line.operation)}: ${count}`)
  }
  if (invalid.length > 0) {
    progress(`INVALID (non-2xx or errors): ${invalid.join(', ')}`)
    process.exitCode = 1
  }
}

const removeKeys = async (): Promise<void> => { if (keysDir !== undefined) await rm(keysDir, { recursive: true, force: true }) }
main().then(removeKeys, async (error: unknown) => {
  console.error(error)
  await removeKeys()
  process.exit(1)
})
