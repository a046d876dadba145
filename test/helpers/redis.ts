/**
 * Redis for tests: the shared server at REDIS_URL, and private `redis-server` processes (one
 * node to stop and restart, or a 3-master Cluster) that a test starts and always tears down.
 *
 * Skip rule: when Redis (or the redis-server binary) is missing, a test is skipped with a clear
 * message locally, and FAILS under `CI=true`: CI installs and starts Redis, so there a missing
 * Redis is a broken setup, never a reason to skip.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import { RedisStore } from '../../lib/adapters/store/redis.js'
import { randomToken } from '../../lib/tokens/crypto.js'
import type { StoreFactory } from '../adapters/store/contract.js'
import { freePort } from './server.js'

const run = promisify(execFile)

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const inCI = process.env.CI === 'true'

/** Reports a missing dependency: a visible skip locally, a failure under CI=true. */
export function missing (t: Test, reason: string): void {
  if (inCI) t.fail(`${reason} — CI=true: Redis tests must run, never skip`)
  else t.pass('needs Redis', { skip: `${reason} (start Redis or set REDIS_URL to run it)` })
}

/** A unique key prefix per store, so tests share one Redis without touching others' keys. */
export function testPrefix (): string {
  return `oidc-test:${randomToken(6)}:`
}

/**
 * Connects to `url` and checks the server is Redis 7+ (the store uses EXPIRE NX/GT and
 * PEXPIRETIME). Resolves the ready client, or why it cannot be used.
 */
export async function connectRedis (
  url = REDIS_URL,
  options: RedisOptions = { connectTimeout: 1000, maxRetriesPerRequest: 1 }
): Promise<Redis | string> {
  const client = new Redis(url, { ...options, lazyConnect: true })
  // ioredis prints unhandled 'error' events; the tests look at rejected commands instead.
  client.on('error', () => {})
  try {
    await client.connect()
    const info = await client.info('server')
    const major = Number(/redis_version:(\d+)/.exec(info)?.[1] ?? 0)
    if (major < 7) {
      client.disconnect()
      return `Redis at ${url} is version ${major}; RedisStore needs 7.0 or later`
    }
    return client
  } catch (error) {
    client.disconnect()
    return `Redis is unreachable at ${url}: ${(error as Error).message}`
  }
}

/** A client on REDIS_URL, quit at teardown; undefined (after `missing`) when unreachable. */
export async function requireRedis (t: Test): Promise<Redis | undefined> {
  const client = await connectRedis()
  if (typeof client === 'string') {
    missing(t, client)
    return undefined
  }
  t.teardown(async () => { await client.quit().catch(() => client.disconnect()) })
  return client
}

/** Deletes every key under `prefix` (test cleanup; SCAN is fine here, never in the store). */
export async function deleteKeys (client: Redis | Cluster, prefix: string): Promise<void> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client]
  for (const node of nodes) {
    for await (const keys of node.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
      // One key per UNLINK: on a Cluster node, keys of one batch may sit in different slots.
      await Promise.all(keys.map(async (key) => await node.unlink(key)))
    }
  }
}

/** Every key under `prefix` (tests only). */
export async function listKeys (client: Redis | Cluster, prefix: string): Promise<string[]> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client]
  const all: string[] = []
  for (const node of nodes) {
    for await (const keys of node.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) all.push(...keys)
  }
  return all
}

/**
 * A contract-suite factory: each subtest gets a RedisStore on a fresh prefix, plus a peer store
 * on `peerClient` (another connection: another provider instance) when given. Keys are deleted
 * afterwards; the clients stay open (the caller owns them).
 */
export function redisStoreFactory (client: Redis | Cluster, peerClient?: Redis | Cluster): StoreFactory {
  return async () => {
    const prefix = testPrefix()
    const store = new RedisStore({ client, prefix })
    const peer = peerClient === undefined ? undefined : new RedisStore({ client: peerClient, prefix })
    return {
      store,
      ...(peer === undefined ? {} : { peer }),
      cleanup: async () => {
        await store.close()
        await peer?.close()
        await deleteKeys(client, prefix)
      },
    }
  }
}

// Private redis-server processes ----------------------------------------------------------------

/** Whether a `redis-server` binary is on PATH (private servers and the Cluster need it). */
export function hasRedisServer (): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
}

/** Reports a missing redis-server binary, with the same skip-locally / fail-in-CI rule. */
export function requireRedisServer (t: Test): boolean {
  if (hasRedisServer()) return true
  missing(t, 'redis-server is not installed (apt-get install redis-server)')
  return false
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

async function cli (port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5000 })
  return stdout
}

async function waitFor (what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

/** Children still running when the process exits are killed, even if a teardown never ran. */
const children = new Set<ChildProcess>()
process.once('exit', () => { for (const child of children) child.kill('SIGKILL') })

export interface RedisServerProcess {
  port: number
  url: string
  /** Stops the server (connections are closed, new ones refused). */
  stop (): Promise<void>
  /** Starts it again on the same port (empty: nothing is persisted). */
  start (): Promise<void>
  /** Freezes the server (SIGSTOP): connections stay open and commands hang, as in a network partition. */
  pause (): void
  resume (): void
}

/**
 * Starts a private `redis-server` on a free loopback port, without persistence, in a temp dir.
 * Killed and removed at teardown, on failure too.
 */
export async function startRedisServer (t: Test, extraArgs: string[] = [], port?: number): Promise<RedisServerProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'oidc-redis-'))
  const chosenPort = port ?? await freePort()
  let child: ChildProcess | undefined

  const stop = async (): Promise<void> => {
    const current = child
    child = undefined
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return
    const exited = new Promise((resolve) => current.once('exit', resolve))
    current.kill('SIGCONT')
    current.kill('SIGKILL')
    await exited
    children.delete(current)
  }
  const start = async (): Promise<void> => {
    if (child !== undefined) return
    const started = spawn('redis-server', [
      '--port', String(chosenPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--logfile', join(dir, `redis-${chosenPort}.log`), ...extraArgs,
    ], { stdio: 'ignore' })
    child = started
    children.add(started)
    await waitFor(`redis-server on port ${chosenPort}`, async () => (await cli(chosenPort, 'ping')).trim() === 'PONG')
  }

  t.teardown(async () => {
    await stop()
    await rm(dir, { recursive: true, force: true })
  })
  await start()
  return {
    port: chosenPort,
    url: `redis://127.0.0.1:${chosenPort}`,
    stop,
    start,
    pause: () => { child?.kill('SIGSTOP') },
    resume: () => { child?.kill('SIGCONT') },
  }
}

async function portIsFree (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => { resolve(false) })
    server.listen(port, '127.0.0.1', () => { server.close(() => { resolve(true) }) })
  })
}

/** A port whose cluster bus port (+10000) is valid and free too. */
async function freeClusterPort (taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort()
    if (port + 10_000 > 65_535 || taken.has(port)) continue
    const bus = await portIsFree(port + 10_000)
    if (bus) return port
  }
}

export interface RedisClusterProcess {
  nodes: Array<{ host: string, port: number }>
}

/**
 * Starts a real Redis Cluster of `masters` masters (no replicas) on free loopback ports:
 * `redis-server --cluster-enabled yes` per node, `redis-cli --cluster create`, then waits until
 * every node reports `cluster_state:ok`. Torn down at teardown, on failure too.
 */
export async function startRedisCluster (t: Test, masters = 3): Promise<RedisClusterProcess> {
  const taken = new Set<number>()
  const servers: RedisServerProcess[] = []
  for (let i = 0; i < masters; i++) {
    const port = await freeClusterPort(taken)
    taken.add(port)
    servers.push(await startRedisServer(t, [
      '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '5000',
    ], port))
  }
  await run('redis-cli', [
    '--cluster', 'create', ...servers.map((server) => `127.0.0.1:${server.port}`),
    '--cluster-replicas', '0', '--cluster-yes',
  ], { timeout: 30_000 })
  for (const server of servers) {
    await waitFor(`cluster_state:ok on ${server.port}`, async () => (await cli(server.port, 'cluster', 'info')).includes('cluster_state:ok'), 20_000)
  }
  return { nodes: servers.map((server) => ({ host: '127.0.0.1', port: server.port })) }
}
