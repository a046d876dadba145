import autocannon from 'autocannon'
import { cpuPerOp, round, type CpuReader, type ScenarioResult } from './stats.js'

export interface CannonScenario {
  scenario: string
  store?: 'memory' | 'redis' | 'postgres'
  url: string
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** True when the body is the real success (not just a 2xx): counted in non2xx otherwise. */
  verifyBody: (body: string) => boolean
  connections: number
  durationSec: number
  /** The server's CPU time (ms), read around the measured run. */
  serverCpuMs?: CpuReader
}

/**
 * Runs one autocannon scenario: a short warm-up (JIT, connection setup) then the measured run.
 * A response counts as good only with a 2xx status AND a body that `verifyBody` accepts.
 */
export async function cannon (options: CannonScenario): Promise<ScenarioResult> {
  const base = {
    url: options.url,
    connections: options.connections,
    ...(options.method === undefined ? {} : { method: options.method }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(options.body === undefined ? {} : { body: options.body }),
    verifyBody: options.verifyBody,
  }
  await autocannon({ ...base, duration: 1 })
  const serverBefore = await options.serverCpuMs?.()
  const clientBefore = process.cpuUsage()
  const result = await autocannon({ ...base, duration: options.durationSec })
  const client = process.cpuUsage(clientBefore)
  const serverAfter = await options.serverCpuMs?.()
  const completed = Math.max(1, result['2xx'])
  const bad = result.non2xx + result.mismatches
  return {
    scenario: options.scenario,
    ...(options.store === undefined ? {} : { store: options.store }),
    rps: round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: bad,
    errors: result.errors + result.timeouts,
    total: result.requests.total,
    durationSec: result.duration,
    concurrency: options.connections,
    ...(serverBefore === undefined || serverAfter === undefined ? {} : cpuPerOp(serverBefore, serverAfter, completed)),
    clientCpuMsPerOp: round((client.user + client.system) / 1000 / completed, 3),
    valid: bad === 0 && result.errors + result.timeouts === 0 && result['2xx'] > 0,
  }
}
