/**
 * Profiles one scenario alone: starts the example server (as the bench does, memory store or
 * REDIS_URL's Redis) with `--cpu-prof`, runs the scenario against it, closes it (V8 writes the
 * profile) and prints the top self-time functions.
 *
 *   npx tsx bench/profile-one.ts sso-code-flow            # memory store, RS256
 *   REDIS_URL=redis://127.0.0.1:6379 npx tsx bench/profile-one.ts userinfo redis
 *   BENCH_ALG=ES256 npx tsx bench/profile-one.ts client_credentials
 *   npx tsx bench/profile-one.ts sso-code-flow postgres   # DATABASE_URL's PostgreSQL, a schema of the run's own
 *
 * Scenarios: client_credentials, sso-code-flow, introspection, userinfo, refresh, discovery,
 * jwks, login-flow. The profile stays in reports/cpu-prof/ (or BENCH_CPU_PROF when it names a folder).
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { cpuProfileFolder } from './lib/child.js'
import { startExample } from './lib/example.js'
import { benchDatabaseUrl, benchPostgres } from './lib/postgres.js'
import {
  clientCredentialsScenario,
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
import { summarize } from './profile-summary.js'

const [scenario = 'sso-code-flow', store = 'memory'] = process.argv.slice(2)
process.env.BENCH_CPU_PROF = cpuProfileFolder() ?? '1'
const folder = cpuProfileFolder()!
const settings: RunSettings = {
  durationSec: Number(process.env.BENCH_DURATION ?? 5),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 32),
}
async function run (target: Target): Promise<ScenarioResult[]> {
  switch (scenario) {
    case 'client_credentials': return [await clientCredentialsScenario(target, settings)]
    case 'sso-code-flow': return [await ssoFlowScenario(target, settings)]
    case 'introspection': return [await introspectionScenario(target, settings)]
    case 'userinfo': return [await userinfoScenario(target, settings)]
    case 'refresh': return [await refreshScenario(target, settings)]
    case 'login-flow': return [await loginFlowScenario(target, settings)]
    case 'discovery':
    case 'jwks': return (await staticDocumentScenarios(target, settings)).filter((result) => result.scenario === scenario)
    default: throw new Error(`unknown scenario ${scenario}`)
  }
}

async function main (): Promise<void> {
  const started = Date.now()
  const keysDir = await mkdtemp(join(tmpdir(), 'bench-keys-'))
  const alg = process.env.BENCH_ALG
  const storeName = store === 'redis' || store === 'postgres' ? store : 'memory'
  const env: Record<string, string> = { KEYS_DIR: keysDir, SECRET_KEY: randomBytes(32).toString('base64url'), STORE: storeName }
  if (store !== 'redis') env.REDIS_URL = ''
  if (alg !== undefined) env.ACCESS_TOKEN_ALG = alg
  // PostgreSQL as the bench runs it (a schema of the run's own, the backends' CPU counted beside
  // the provider's), without its statement-counting relay.
  const postgres = storeName === 'postgres' ? await benchPostgres(`profile_${process.pid}`) : undefined
  if (postgres !== undefined && !('schema' in postgres)) throw new Error(postgres.reason)
  if (postgres !== undefined) {
    const url = new URL(benchDatabaseUrl)
    url.searchParams.set('application_name', postgres.applicationName)
    Object.assign(env, { DATABASE_URL: url.href, DATABASE_SCHEMA: postgres.schema })
  }
  let results: ScenarioResult[]
  const server = await startExample(env).catch(async (error: unknown) => {
    await rm(keysDir, { recursive: true, force: true })
    await postgres?.drop()
    throw error
  })
  try {
    const cpuMs = postgres === undefined
      ? server.cpuMs
      : async () => ({ provider: await server.cpuMs(), 'postgres-backends': await postgres.backendsCpuMs() })
    const target = await prepareTarget(server, storeName, cpuMs, alg === undefined ? {} : { alg })
    results = await run(target)
  } finally {
    await server.close()
    await rm(keysDir, { recursive: true, force: true })
    await postgres?.drop()
  }
  for (const result of results) console.log(JSON.stringify(result))
  const files: string[] = []
  for (const name of await readdir(folder)) {
    const file = join(folder, name)
    if (name.endsWith('.cpuprofile') && (await stat(file)).mtimeMs >= started) files.push(file)
  }
  const operations = results.reduce((sum, result) => sum + result.total, 0)
  // One profile per thread: the main thread's, and tsx's module-loader thread (skipped: it only loads code).
  const summaries = await Promise.all(files.map(async (file) => summarize(file, JSON.parse(await readFile(file, 'utf8')), Number(process.env.PROFILE_TOP ?? 30))))
  for (const summary of summaries) {
    const file = summary.file
    if (summary.functions.some((entry) => entry.where.startsWith('node:internal/modules/esm/worker'))) continue
    // The profile covers warm-up and setup too, so per-op figures are upper bounds.
    console.log(`\n${file}: ${summary.totalMs} ms busy on the main thread, ~${operations} measured ops`)
    console.log('  self ms  share  µs/op  function')
    for (const entry of summary.functions) {
      console.log(`${entry.selfMs.toFixed(1).padStart(9)} ${entry.share.toFixed(1).padStart(5)}% ${(entry.selfMs * 1000 / Math.max(1, operations)).toFixed(1).padStart(6)}  ${entry.name} ${entry.where}`)
    }
    console.log('  by area:')
    for (const entry of summary.areas) {
      console.log(`${entry.selfMs.toFixed(1).padStart(9)} ${entry.share.toFixed(1).padStart(5)}% ${(entry.selfMs * 1000 / Math.max(1, operations)).toFixed(1).padStart(6)}  ${entry.area}`)
    }
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
