import { round } from './stats.js'

/** A ratio of two numbers measured in the same run, and its target from issue 9. */
export interface Ratio {
  name: string
  value: number | null
  target: string
  /** Undefined for informational ratios, or when a side was not measured (skipped, invalid). */
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

function atLeast (name: string, numerator: number | undefined, denominator: number | undefined, min: number, note?: string): Ratio {
  if (numerator === undefined || denominator === undefined) return { name, value: null, target: `>= ${min}`, note: 'not measured in this run' }
  const value = round(numerator / denominator, 3)
  return { name, value, target: `>= ${min}`, met: value >= min, ...(note === undefined ? {} : { note }) }
}

/** The targets of issue 9, computed from this run's lines. */
export function ratios (results: readonly Line[]): Ratio[] {
  // jose runs twice (before the signing endpoints and after the SSO flow): the mean of both.
  const joseRuns = results.filter((line) => line.scenario === 'jose-rs256-concurrent' && line.valid === true).map(rate)
    .filter((value): value is number => value !== undefined)
  const jose = joseRuns.length === 0 ? undefined : joseRuns.reduce((sum, value) => sum + value, 0) / joseRuns.length
  const bare = rate(find(results, 'bare-fastify'))
  const list: Ratio[] = [
    atLeast('client_credentials rps / jose concurrent sig/s', rate(find(results, 'client_credentials', 'memory')), jose, 0.75),
    atLeast('discovery rps / bare Fastify rps', rate(find(results, 'discovery')), bare, 0.8),
    atLeast('jwks rps / bare Fastify rps', rate(find(results, 'jwks')), bare, 0.8),
    atLeast('SSO code flows/s / jose concurrent sig/s', rate(find(results, 'sso-code-flow', 'memory')), jose, 0.4, 'two signatures per flow: 0.5 is the ceiling'),
  ]
  for (const scenario of ['client_credentials', 'introspection', 'userinfo', 'sso-code-flow', 'login-flow']) {
    list.push(atLeast(`${scenario} redis / memory`, rate(find(results, scenario, 'redis')), rate(find(results, scenario, 'memory')), 0.8))
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
