/**
 * The example server as `npm start` runs it: `tsx examples/server.ts` in a process of its own,
 * configured only through the environment variables it already reads (PORT, STORE, REDIS_URL,
 * DATABASE_URL, DATABASE_SCHEMA, KEYS_DIR, SECRET_KEY, ACCESS_TOKEN_ALG, LOG_LEVEL=warn).
 * Its issuer is its default, http://localhost:PORT; the bench talks to 127.0.0.1:PORT.
 *
 * CPU is read from /proc for the whole tree: tsx's launcher process and the node process it
 * starts (the one that serves), every thread of both.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { cpuProfileFolder, freePort } from './child.js'
import { processTree, treeCpuReader } from './proc.js'

export interface ExampleServer {
  /** Where the bench connects (http://127.0.0.1:PORT). */
  origin: string
  /** The provider's issuer (http://localhost:PORT, the example's default). */
  issuer: string
  process: ChildProcess
  /** CPU milliseconds of the server's process tree so far. */
  cpuMs: () => Promise<number>
  close: () => Promise<void>
}

const root = fileURLToPath(new URL('../../', import.meta.url))
const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url))

/** Starts examples/server.ts and waits until /health/ready answers 200. */
export async function startExample (env: Record<string, string>): Promise<ExampleServer> {
  const port = await freePort()
  const folder = cpuProfileFolder()
  // Node refuses --cpu-prof in NODE_OPTIONS; tsx passes Node's own flags on to the node it starts.
  const profile = folder === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${folder}`]
  const child = spawn(tsx, [...profile, 'examples/server.ts'], {
    cwd: root,
    env: {
      ...process.env,
      // The example reads .env when it exists: the bench's variables win over it.
      LOG_LEVEL: 'warn',
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  // pino writes to stdout: keep the bench's stdout for its JSON lines.
  child.stdout?.pipe(process.stderr)
  const origin = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`examples/server.ts exited with ${child.exitCode} before it was ready`)
    const ready = await fetch(`${origin}/health/ready`).then((response) => response.status === 200, () => false)
    if (ready) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error('examples/server.ts was not ready within 60 s')
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const pids = await processTree(child.pid!)
  const close = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    // tsx relays SIGTERM to node; the example closes the app (and its store) and exits.
    child.kill('SIGTERM')
    const timer = setTimeout(() => { for (const pid of pids.reverse()) { try { process.kill(pid, 'SIGKILL') } catch {} } }, 10_000)
    await exited
    clearTimeout(timer)
  }
  return { origin, issuer: `http://localhost:${port}`, process: child, cpuMs: await treeCpuReader(child.pid!), close }
}
