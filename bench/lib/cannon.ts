import autocannon from 'autocannon'
import { round, type ScenarioResult } from './stats.js'

export interface CannonScenario {
  scenario: string
  store?: 'memory' | 'redis'
  url: string
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** True when the body is the real success (not just a 2xx): counted in non2xx otherwise. */
  verifyBody: (body: string) => boolean
  connections: number
  durationSec: number
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
  const result = await autocannon({ ...base, duration: options.durationSec })
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
    valid: bad === 0 && result.errors + result.timeouts === 0 && result['2xx'] > 0,
  }
}
