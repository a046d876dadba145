import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import { freePort } from './child.js'

export interface BenchRedis {
  url: string
  /** The redis-server process (its CPU is the store's share of an operation), when on this machine. */
  pid?: number
  /** True when the bench started this redis-server itself (nothing else talks to it). */
  private: boolean
  stop: () => Promise<void>
}

/**
 * The Redis of the Redis variants. An explicit REDIS_URL is used as given; otherwise, when a
 * `redis-server` binary is there, the bench starts its own on a free loopback port (no
 * persistence), so INFO commandstats counts the provider's commands and nobody else's (the
 * machine's shared Redis serves other people's test suites meanwhile).
 */
export async function benchRedis (): Promise<BenchRedis> {
  const explicit = process.env.REDIS_URL
  if (explicit !== undefined && explicit !== '') return { url: explicit, private: false, stop: async () => {} }
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    return { url: 'redis://127.0.0.1:6379', private: false, stop: async () => {} }
  }
  const port = await freePort()
  const server: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const url = `redis://127.0.0.1:${port}`
  // Never left behind, even when the bench dies on an error.
  const kill = (): void => { server.kill() }
  process.once('exit', kill)
  const deadline = Date.now() + 10_000
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.ping()
      await client.quit()
      break
    } catch (error) {
      client.disconnect()
      if (Date.now() > deadline) {
        server.kill()
        throw new Error(`the bench's redis-server did not answer on port ${port}: ${(error as Error).message}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return {
    url,
    private: true,
    ...(server.pid === undefined ? {} : { pid: server.pid }),
    stop: async () => {
      process.off('exit', kill)
      if (server.exitCode !== null) return
      const exited = new Promise((resolve) => server.once('exit', resolve))
      server.kill('SIGTERM')
      await exited
    },
  }
}

/** Calls per command from INFO commandstats (`cmdstat_get:calls=3,...`). */
export async function commandStats (client: Redis): Promise<Map<string, number>> {
  const info = await client.info('commandstats')
  const stats = new Map<string, number>()
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) stats.set(match[1]!, Number(match[2]))
  return stats
}

export interface CommandCount {
  /** Commands the provider sent (a script call, EVALSHA, is one), per operation, from MONITOR. */
  sentPerOp: number
  /** Every command Redis executed (INFO commandstats, calls inside scripts included), per operation. */
  executedPerOp: number
  /** What was sent, by command name, per operation. */
  sent: Record<string, number>
  /** INFO commandstats delta by command, per operation (INFO and MONITOR themselves left out). */
  executed: Record<string, number>
  operations: number
}

/**
 * Runs `operations` (sequentially, nothing else on this Redis meanwhile) and counts the Redis
 * commands they cost: INFO commandstats before and after (what Redis executed, commands inside
 * Lua scripts included), and MONITOR for what the provider sent: a line from a client whose
 * arguments name a key under `prefix`, so our own INFO calls are not counted.
 */
export async function countCommands (url: string, prefix: string, operations: number, run: () => Promise<void>): Promise<CommandCount> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 })
  const monitor = await client.monitor()
  const sent = new Map<string, number>()
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source === 'lua' || !args.slice(1).some((arg) => arg.includes(prefix))) return
    const name = args[0]!.toLowerCase()
    sent.set(name, (sent.get(name) ?? 0) + 1)
  })
  try {
    const before = await commandStats(client)
    for (let i = 0; i < operations; i++) await run()
    const after = await commandStats(client)
    // MONITOR lines arrive asynchronously: a PING through the monitored server flushes them.
    await client.ping()
    await new Promise((resolve) => setTimeout(resolve, 200))
    const executed = new Map<string, number>()
    for (const [name, calls] of after) {
      if (name === 'info' || name === 'monitor' || name === 'ping') continue
      const delta = calls - (before.get(name) ?? 0)
      if (delta > 0) executed.set(name, delta)
    }
    const per = (map: Map<string, number>): Record<string, number> =>
      Object.fromEntries([...map].sort((a, b) => b[1] - a[1]).map(([name, count]) => [name, Math.round(count / operations * 100) / 100]))
    const total = (map: Map<string, number>): number => Math.round([...map.values()].reduce((sum, count) => sum + count, 0) / operations * 100) / 100
    return { sentPerOp: total(sent), executedPerOp: total(executed), sent: per(sent), executed: per(executed), operations }
  } finally {
    monitor.disconnect()
    await client.quit()
  }
}

/** The redis-server's process id (INFO server), so its CPU can be read from /proc (same machine only). */
export async function redisServerPid (url: string): Promise<number | undefined> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 })
  try {
    const match = /^process_id:(\d+)/m.exec(await client.info('server'))
    return match === null ? undefined : Number(match[1])
  } finally {
    await client.quit()
  }
}
