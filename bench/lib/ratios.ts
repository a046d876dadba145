import { round } from './stats.js'

/** A ratio of two numbers measured in the same run, and its target from issue 9. */
export interface Ratio {
  name: string
  value: number | null
  target: string
  /** Undefined for informational ratios, or when a side was not measured (skipped, invalid). */
  met?: boolean
  /**
   * The same ratio from CPU time per operation (server + load generator, every thread):
   * cpu(B) / cpu(A). What the throughput ratio would be on an otherwise idle machine where both
   * sides are CPU-bound; far steadier than throughput on a shared machine.
   */
  cpuValue?: number | null
  note?: string
}

type Line = Record<string, unknown>

function find (results: readonly Line[], scenario: string, store?: string): Line | undefined {
  return results.find((line) => line.scenario === scenario && line.store === store && line.valid === true)
}

function rate (line: Line | undefined): number | undefined {
  const value = line?.rps ?? line?.flowsPerSec ?? line?.opsPerSec
  return typeof value === 'number' && value > 0 ? value : undefined
}

/** CPU milliseconds per operation: server + load generator, or the in-process baseline's. */
function cpu (line: Line | undefined): number | undefined {
  if (line === undefined) return undefined
  if (typeof line.cpuMsPerOp === 'number') return line.cpuMsPerOp
  if (typeof line.serverCpuMsPerOp === 'number' && typeof line.clientCpuMsPerOp === 'number') return line.serverCpuMsPerOp + line.clientCpuMsPerOp
  return undefined
}

function atLeast (
  name: string,
  numerator: number | undefined,
  denominator: number | undefined,
  min: number,
  cpus: [number | undefined, number | undefined] | undefined,
  note?: string
): Ratio {
  if (numerator === undefined || denominator === undefined) return { name, value: null, target: `>= ${min}`, note: 'not measured in this run' }
  const value = round(numerator / denominator, 3)
  const cpuValue = cpus === undefined ? undefined : cpus[0] === undefined || cpus[1] === undefined ? null : round(cpus[1] / cpus[0], 3)
  return { name, value, target: `>= ${min}`, met: value >= min, ...(cpuValue === undefined ? {} : { cpuValue }), ...(note === undefined ? {} : { note }) }
}

/** The targets of issue 9, computed from this run's lines. */
export function ratios (results: readonly Line[]): Ratio[] {
  // jose runs twice (before the signing endpoints and after the SSO flow): the mean of both.
  const joseRuns = results.filter((line) => line.scenario === 'jose-rs256-concurrent' && line.valid === true).map(rate)
    .filter((value): value is number => value !== undefined)
  const jose = joseRuns.length === 0 ? undefined : joseRuns.reduce((sum, value) => sum + value, 0) / joseRuns.length
  const joseCpus = results.filter((line) => line.scenario === 'jose-rs256-concurrent' && line.valid === true).map(cpu)
    .filter((value): value is number => value !== undefined)
  const joseCpu = joseCpus.length === 0 ? undefined : joseCpus.reduce((sum, value) => sum + value, 0) / joseCpus.length
  const bare = find(results, 'bare-fastify')
  const cc = find(results, 'client_credentials', 'memory')
  const sso = find(results, 'sso-code-flow', 'memory')
  const discovery = find(results, 'discovery')
  const jwks = find(results, 'jwks')
  const list: Ratio[] = [
    atLeast('client_credentials rps / jose concurrent sig/s', rate(cc), jose, 0.75, [cpu(cc), joseCpu]),
    atLeast('discovery rps / bare Fastify rps', rate(discovery), rate(bare), 0.8, [cpu(discovery), cpu(bare)]),
    atLeast('jwks rps / bare Fastify rps', rate(jwks), rate(bare), 0.8, [cpu(jwks), cpu(bare)]),
    atLeast('SSO code flows/s / jose concurrent sig/s', rate(sso), jose, 0.4, [cpu(sso), joseCpu], 'two signatures per flow: 0.5 is the ceiling'),
  ]
  // No CPU-normalized value for Redis: redis-server's own CPU is not in these processes' times.
  for (const scenario of ['client_credentials', 'introspection', 'userinfo', 'sso-code-flow', 'login-flow']) {
    list.push(atLeast(`${scenario} redis / memory`, rate(find(results, scenario, 'redis')), rate(find(results, scenario, 'memory')), 0.8, undefined))
  }
  const memory = results.find((line) => line.scenario === 'memory-100k')
  const rss = typeof memory?.rssAfterOverStart === 'number' ? memory.rssAfterOverStart : undefined
  list.push(rss === undefined
    ? { name: 'RSS after expiry / RSS at start', value: null, target: '<= 1.2', note: 'not measured in this run' }
    : { name: 'RSS after expiry / RSS at start', value: rss, target: '<= 1.2', met: rss <= 1.2 })
  // Informational: what a login flow costs once the real password hash is back in.
  const login = rate(find(results, 'login-flow', 'memory'))
  const scrypt = rate(find(results, 'scrypt-verify'))
  if (login !== undefined && scrypt !== undefined) {
    list.push({
      name: 'login flows/s with real scrypt (estimate: 1 / (1/login + 1/scrypt))',
      value: round(1 / (1 / login + 1 / scrypt), 1),
      target: 'informational',
      note: 'both share the two cores, so the real rate is at most this',
    })
  }
  return list
}
