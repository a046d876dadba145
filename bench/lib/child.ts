import { fork, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

/** A free loopback port (the issuer, and so the port, must be known before the server starts). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

/**
 * Where CPU profiles go: `BENCH_CPU_PROF=1` means reports/cpu-prof/ (git-ignored), any other
 * value is a folder. Summarize them with `npx tsx bench/profile-summary.ts reports/cpu-prof`.
 */
export function cpuProfileFolder (): string | undefined {
  const value = process.env.BENCH_CPU_PROF
  if (value === undefined || value === '' || value === '0') return undefined
  return value === '1' ? fileURLToPath(new URL('../../reports/cpu-prof/', import.meta.url)) : value
}

export interface ChildServer {
  origin: string
  port: number
  process: ChildProcess
  close: () => Promise<void>
  /** The child's CPU time so far (user + system, every thread), in milliseconds. */
  cpuMs: () => Promise<number>
}

/**
 * Starts a bench script (bench/*.ts, through tsx) in its own process and waits for its
 * `{ ready: true }` IPC message. Its stdout (pino) goes to our stderr so stdout keeps one JSON
 * line per scenario. `close()` asks it to close (so a Redis client quits cleanly) and waits.
 */
export async function startChild (script: string, env: Record<string, string>, execArgv: string[] = []): Promise<ChildServer> {
  const port = await freePort()
  const path = fileURLToPath(new URL(`../${script}`, import.meta.url))
  // BENCH_CPU_PROF=1 (or a folder): every server writes a V8 CPU profile when it closes.
  const folder = cpuProfileFolder()
  const profile = folder === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${folder}`]
  const child = fork(path, [], {
    execArgv: [...execArgv, ...profile, '--import', 'tsx'],
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  })
  child.stdout?.pipe(process.stderr)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 30 s`)), 30_000)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${script} exited with ${String(code)} before it was ready`)) })
    child.on('message', (message) => {
      if (typeof message === 'object' && message !== null && (message as { ready?: unknown }).ready === true) {
        clearTimeout(timer)
        child.removeAllListeners('exit')
        resolve()
      }
    })
  })
  const close = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.send('close')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    await exited
    clearTimeout(timer)
  }
  const cpuMs = async (): Promise<number> => await new Promise((resolve) => {
    const listener = (message: unknown): void => {
      const cpu = (message as { cpu?: { user: number, system: number } }).cpu
      if (cpu === undefined) return
      child.off('message', listener)
      resolve((cpu.user + cpu.system) / 1000)
    }
    child.on('message', listener)
    child.send('cpu')
  })
  return { origin: `http://127.0.0.1:${port}`, port, process: child, close, cpuMs }
}

/** Runs a one-shot bench script (through tsx) and resolves with the one message it sends. */
export async function runForMessage (script: string, execArgv: string[] = []): Promise<Record<string, unknown>> {
  const path = fileURLToPath(new URL(`../${script}`, import.meta.url))
  const child = fork(path, [], { execArgv: [...execArgv, '--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  child.stdout?.pipe(process.stderr)
  return await new Promise((resolve, reject) => {
    let result: Record<string, unknown> | undefined
    child.on('message', (message) => { result = message as Record<string, unknown> })
    child.once('exit', (code) => {
      if (result !== undefined) resolve(result)
      else reject(new Error(`${script} exited with ${String(code)} without a result`))
    })
  })
}
