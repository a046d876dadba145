import { round } from './stats.js'

/**
 * A target of issue 19, computed from two numbers measured in the same run.
 *
 * Most targets are judged on **server CPU time per operation** (`process.cpuUsage()` of the
 * server process, every thread): on this shared 2-core machine throughput moves with other
 * people's builds, CPU per operation far less. The throughput ratio is given beside it.
 */
export interface Ratio {
  name: string
  target: string
  /** What `met` is judged on: `cpu` (server CPU per op) or `throughput` (requests/s). */
  basis: 'cpu' | 'throughput' | 'count'
  /** The judged value (cpu ratio, throughput ratio, or count), null when a side is missing. */
  value: number | null
  /** The same comparison from server CPU per operation (`cpu` of numerator / denominator). */
  cpuValue?: number | null
  /** The same comparison from throughput, in the direction of the target's inequality. */
  throughputValue?: number | null
  /** The two sides, so the reader sees µs, not only their ratio. */
  sides?: Record<string, number | undefined>
  /** Undefined when a side was not measured (skipped, invalid). */
  met?: boolean
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

/** Server CPU ms per operation (or, for the in-process jose baseline, that process's). */
function serverCpu (line: Line | undefined): number | undefined {
  if (line === undefined) return undefined
  if (typeof line.serverCpuMsPerOp === 'number') return line.serverCpuMsPerOp
  if (typeof line.cpuMsPerOp === 'number') return line.cpuMsPerOp
  return undefined
}

function mean (values: Array<number | undefined>): number | undefined {
  const known = values.filter((value): value is number => value !== undefined)
  return known.length === 0 ? undefined : known.reduce((sum, value) => sum + value, 0) / known.length
}

const ratio = (a: number | undefined, b: number | undefined): number | null =>
  a === undefined || b === undefined ? null : round(a / b, 3)

const us = (ms: number | undefined): number | undefined => ms === undefined ? undefined : round(ms * 1000, 1)

/** cpu(subject) / cpu(base) <= max, judged on CPU; throughput beside as rate(base) / rate(subject). */
function cpuAtMost (name: string, subject: Line | undefined, base: { cpu?: number, rate?: number }, max: number, labels: [string, string], note?: string): Ratio {
  const cpuValue = ratio(serverCpu(subject), base.cpu)
  return {
    name,
    target: `<= ${max} (server CPU per op)`,
    basis: 'cpu',
    value: cpuValue,
    cpuValue,
    throughputValue: ratio(base.rate, rate(subject)),
    sides: { [`${labels[0]}ServerCpuUs`]: us(serverCpu(subject)), [`${labels[1]}CpuUs`]: us(base.cpu) },
    ...(cpuValue === null ? { note: 'not measured in this run' } : { met: cpuValue <= max }),
    ...(note === undefined ? {} : { note }),
  }
}

/** rate(subject) / rate(base) >= min, judged on throughput; CPU beside as cpu(base) / cpu(subject). */
function rateAtLeast (name: string, subject: Line | undefined, base: Line | undefined, min: number, basis: 'throughput' | 'cpu', note?: string): Ratio {
  const throughputValue = ratio(rate(subject), rate(base))
  const cpuValue = ratio(serverCpu(base), serverCpu(subject))
  const value = basis === 'cpu' ? cpuValue : throughputValue
  return {
    name,
    target: `>= ${min} (${basis === 'cpu' ? 'server CPU per op, inverted' : 'requests/s'})`,
    basis,
    value,
    cpuValue,
    throughputValue,
    sides: { subjectServerCpuUs: us(serverCpu(subject)), baseServerCpuUs: us(serverCpu(base)), subjectRate: rate(subject), baseRate: rate(base) },
    ...(value === null ? { note: 'not measured in this run' } : { met: value >= min }),
    ...(note === undefined ? {} : { note }),
  }
}

/** The targets of issue 19, computed from this run's lines. */
export function ratios (results: readonly Line[]): Ratio[] {
  // jose runs twice (before the signing endpoints and after the SSO flow): the mean of both.
  const joseRuns = results.filter((line) => line.scenario === 'jose-rs256-concurrent' && line.valid === true)
  const jose = { cpu: mean(joseRuns.map(serverCpu)), rate: mean(joseRuns.map(rate)) }
  const bareLine = find(results, 'bare-fastify')
  const bare = { cpu: serverCpu(bareLine), rate: rate(bareLine) }
  const list: Ratio[] = [
    cpuAtMost('client_credentials / one concurrent RS256 signature', find(results, 'client_credentials', 'memory'), jose, 1.15, ['clientCredentials', 'joseSignature']),
    cpuAtMost('SSO code flow / one concurrent RS256 signature', find(results, 'sso-code-flow', 'memory'), jose, 2.5, ['ssoFlow', 'joseSignature'],
      'two signatures per flow: 2.0 is the floor'),
    cpuAtMost('userinfo / bare Fastify route', find(results, 'userinfo', 'memory'), bare, 4, ['userinfo', 'bareRoute']),
    cpuAtMost('introspection / bare Fastify route', find(results, 'introspection', 'memory'), bare, 4, ['introspection', 'bareRoute']),
    rateAtLeast('discovery / bare Fastify route', find(results, 'discovery'), bareLine, 0.9, 'throughput'),
    rateAtLeast('jwks / bare Fastify route', find(results, 'jwks'), bareLine, 0.9, 'throughput'),
  ]
  for (const scenario of ['client_credentials', 'introspection', 'userinfo', 'sso-code-flow', 'login-flow']) {
    const memory = find(results, scenario, 'memory')
    list.push(cpuAtMost(`${scenario} redis / memory`, find(results, scenario, 'redis'), { cpu: serverCpu(memory), rate: rate(memory) }, 1.15, ['redis', 'memory'],
      "redis-server's own CPU is not in the provider's"))
  }
  const commands = results.find((line) => line.scenario === 'sso-redis-commands' && line.valid === true)
  const sent = typeof commands?.sentPerOp === 'number' ? commands.sentPerOp : undefined
  list.push({
    name: 'Redis commands per SSO flow (sent by the provider; EVALSHA counts one)',
    target: '<= 8',
    basis: 'count',
    value: sent ?? null,
    ...(sent === undefined ? { note: 'not measured in this run' } : { met: sent <= 8 }),
    ...(typeof commands?.executedPerOp === 'number' ? { sides: { executedPerFlowInclScripts: commands.executedPerOp } } : {}),
  })
  // Issue 27: PostgreSQL, its backends' CPU counted with the provider's.
  for (const [scenario, max] of [['client_credentials', 1.15], ['sso-code-flow', 1.6]] as const) {
    const memory = find(results, scenario, 'memory')
    list.push(cpuAtMost(`${scenario} postgres / memory`, find(results, scenario, 'postgres'), { cpu: serverCpu(memory), rate: rate(memory) }, max, ['postgres', 'memory'],
      "the provider's CPU plus its PostgreSQL backends'"))
  }
  const pgStatements = results.find((line) => line.scenario === 'sso-postgres-statements' && line.valid === true)
  const perFlow = typeof pgStatements?.statementsPerOp === 'number' ? pgStatements.statementsPerOp : undefined
  list.push({
    name: 'PostgreSQL statements per SSO flow (sent by the provider)',
    target: '<= 6',
    basis: 'count',
    value: perFlow ?? null,
    ...(perFlow === undefined ? { note: 'not measured in this run' } : { met: perFlow <= 6 }),
  })
  const rs256 = find(results, 'sso-code-flow-RS256', 'memory')
  for (const alg of ['ES256', 'EdDSA']) {
    list.push(rateAtLeast(`SSO code flow ${alg} / RS256`, find(results, `sso-code-flow-${alg}`, 'memory'), rs256, 2.5, 'cpu',
      'judged on server CPU per flow (RS256 / alg); throughput beside includes the flow driver sharing the two cores'))
  }
  const memory = results.find((line) => line.scenario === 'memory-100k')
  const rss = typeof memory?.rssAfterOverStart === 'number' ? memory.rssAfterOverStart : undefined
  list.push(rss === undefined
    ? { name: 'RSS after expiry / RSS at start', target: '<= 1.2', basis: 'count', value: null, note: 'not measured in this run' }
    : { name: 'RSS after expiry / RSS at start', target: '<= 1.2', basis: 'count', value: rss, met: rss <= 1.2 })
  // Informational: what a login flow costs once the real password hash is back in.
  const login = rate(find(results, 'login-flow', 'memory'))
  const scrypt = rate(find(results, 'scrypt-verify'))
  if (login !== undefined && scrypt !== undefined) {
    list.push({
      name: 'login flows/s with real scrypt (estimate: 1 / (1/login + 1/scrypt))',
      target: 'informational',
      basis: 'throughput',
      value: round(1 / (1 / login + 1 / scrypt), 1),
      note: 'both share the two cores, so the real rate is at most this',
    })
  }
  return list
}
