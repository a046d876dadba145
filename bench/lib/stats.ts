/** One JSON line of the benchmark output. Latencies in milliseconds. */
export interface ScenarioResult {
  scenario: string
  store?: 'memory' | 'redis' | 'postgres'
  /** Requests per second (HTTP scenarios measured with autocannon). */
  rps?: number
  /** Complete flows per second (the code-flow scenarios). */
  flowsPerSec?: number
  /** Operations per second (the in-process baselines: signatures, password checks). */
  opsPerSec?: number
  p50: number
  p99: number
  /** Responses that were not the expected success (wrong status, or a body that is not a real success). */
  non2xx: number
  /** Socket errors and timeouts. */
  errors: number
  total: number
  durationSec: number
  concurrency: number
  /** False when any response was not a real success: the numbers of such a run are worthless. */
  valid: boolean
  note?: string
  [extra: string]: unknown
}

export function round (value: number, digits = 1): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/** The p-th percentile of a set of samples (nearest rank). */
export function percentile (sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

/**
 * Reads the server side's CPU milliseconds so far: one number, or one per part (the provider's
 * process tree, redis-server, the PostgreSQL backends) whose sum is the server's.
 */
export type CpuReader = () => Promise<number | Record<string, number>>

/** CPU per operation between two readings: the total, and per part when the reader has parts. */
export function cpuPerOp (before: number | Record<string, number>, after: number | Record<string, number>, operations: number): { serverCpuMsPerOp: number, serverCpuMsPerOpBy?: Record<string, number> } {
  const per = (ms: number): number => operations === 0 ? 0 : round(ms / operations, 3)
  if (typeof before === 'number' || typeof after === 'number') return { serverCpuMsPerOp: per(Number(after) - Number(before)) }
  const by: Record<string, number> = {}
  let total = 0
  for (const [part, ms] of Object.entries(after)) {
    const delta = ms - (before[part] ?? 0)
    by[part] = per(delta)
    total += delta
  }
  return { serverCpuMsPerOp: per(total), serverCpuMsPerOpBy: by }
}

export interface LoopOptions<S> {
  concurrency: number
  durationMs: number
  /** Prepares one worker (e.g. a signed-in browser); not timed. */
  setup: (worker: number) => Promise<S>
  /** One timed iteration; throws when the response is not a real success. */
  iteration: (state: S, worker: number) => Promise<void>
  warmupMs?: number
  /** Reads the server's CPU time (ms) at the start and end of the measured phase. */
  serverCpuMs?: CpuReader
}

export interface LoopResult {
  completed: number
  failed: number
  durationSec: number
  perSec: number
  p50: number
  p99: number
  firstFailure?: string
  /** CPU milliseconds per completed iteration: the server process, and this (client) process. */
  serverCpuMsPerOp?: number
  /** The same per part (provider, redis-server, postgres backends) when the reader has parts. */
  serverCpuMsPerOpBy?: Record<string, number>
  clientCpuMsPerOp: number
}

/**
 * A closed loop: `concurrency` workers each run `iteration` back to back until the time is up.
 * A warm-up phase (not counted) lets the JIT and the connection pool settle first.
 */
export async function closedLoop<S> (options: LoopOptions<S>): Promise<LoopResult> {
  const states = await Promise.all(Array.from({ length: options.concurrency }, (_, worker) => options.setup(worker)))
  const latencies: number[] = []
  let failed = 0
  let firstFailure: string | undefined
  let measuring = false
  let stopAt = 0
  const run = async (worker: number): Promise<void> => {
    while (performance.now() < stopAt) {
      const started = performance.now()
      try {
        await options.iteration(states[worker] as S, worker)
        if (measuring) latencies.push(performance.now() - started)
      } catch (error) {
        if (measuring) failed++
        firstFailure ??= error instanceof Error ? error.message : String(error)
      }
    }
  }
  if ((options.warmupMs ?? 0) > 0) {
    stopAt = performance.now() + options.warmupMs!
    await Promise.all(states.map((_, worker) => run(worker)))
  }
  measuring = true
  const serverBefore = await options.serverCpuMs?.()
  const clientBefore = process.cpuUsage()
  const started = performance.now()
  stopAt = started + options.durationMs
  await Promise.all(states.map((_, worker) => run(worker)))
  const durationSec = (performance.now() - started) / 1000
  const client = process.cpuUsage(clientBefore)
  const serverAfter = await options.serverCpuMs?.()
  const per = (ms: number): number => latencies.length === 0 ? 0 : round(ms / latencies.length, 3)
  latencies.sort((a, b) => a - b)
  return {
    completed: latencies.length,
    failed,
    durationSec,
    perSec: latencies.length / durationSec,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    clientCpuMsPerOp: per((client.user + client.system) / 1000),
    ...(serverBefore === undefined || serverAfter === undefined ? {} : cpuPerOp(serverBefore, serverAfter, latencies.length)),
    ...(firstFailure === undefined ? {} : { firstFailure }),
  }
}
