/**
 * The documentation's TypeScript samples, for test/docs/: where they are (README.md and every
 * guide in docs/), how one becomes a runnable file (the package import pointed at lib/), and
 * the runner that imports them one after another in one process (test/helpers/readme-runner.ts;
 * one tsx process costs seconds on a loaded machine).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { childEnv } from './child-env.js'
import { fromRoot, repoRoot } from './paths.js'

const runner = fromRoot('test', 'helpers', 'readme-runner.ts')
/** Per sample: a sample that neither finishes nor fails within this is a failure. */
const sampleTimeoutMs = 60_000

/** README.md, then every guide under docs/ (guides added later are picked up by the listing). */
export async function documents (): Promise<string[]> {
  const guides = (await readdir(join(repoRoot, 'docs'))).filter((name) => name.endsWith('.md')).sort()
  return ['README.md', ...guides.map((name) => join('docs', name))]
}

/** One ```ts block: its document (relative to the root), its place there (0-based), its code. */
export interface Sample { file: string, ordinal: number, source: string }

/** Every TypeScript sample of `files`, in order. */
export async function samplesOf (files: readonly string[]): Promise<Sample[]> {
  const samples: Sample[] = []
  for (const file of files) {
    const text = await readFile(join(repoRoot, file), 'utf8')
    for (const [ordinal, match] of [...text.matchAll(/```ts\n([\s\S]*?)```/g)].entries()) samples.push({ file, ordinal, source: match[1]! })
  }
  return samples
}

/** A sample's name in test output: `docs/pages.md sample 2`. */
export function sampleName (sample: Sample): string {
  return `${sample.file} sample ${sample.ordinal + 1}`
}

/** The sample as a module of its own, its package imports pointed at lib/. */
export function runnable (source: string): string {
  const code = source.replaceAll("from 'fastify-oidc-provider'", `from '${join(repoRoot, 'lib', 'index.ts')}'`)
    .replaceAll("from 'fastify-oidc-provider/resource-server'", `from '${join(repoRoot, 'lib', 'resource-server', 'index.ts')}'`)
  // `export {}`: a module even without imports.
  return `${code}\nexport {}\n`
}

/** What became of one sample file: `output` is what it printed. */
export interface Outcome { index: number, ok: boolean, error?: string, output: string }

/**
 * Runs `files` (index → path) in runner processes until each has an outcome. The runner stops
 * at the first failure (its process may be in any state); a fresh one goes on after it.
 */
export async function runSamples (files: Array<[number, string]>): Promise<Outcome[]> {
  const outcomes: Outcome[] = []
  let pending = files
  while (pending.length > 0) {
    const done = await runOnce(pending)
    outcomes.push(...done)
    const last = done.at(-1)?.index ?? Number.NEGATIVE_INFINITY
    pending = pending.filter(([index]) => index > last)
  }
  return outcomes
}

/** One runner process over `files`; resolves when it exits (or is killed for a hung sample). */
function runOnce (files: Array<[number, string]>): Promise<Outcome[]> {
  // PORT=0: a sample that listens gets a free port.
  const env = childEnv({ PORT: '0' })
  delete env.SECRET_KEY
  const child = spawn(process.execPath, ['--import', 'tsx', runner], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }) as ChildProcessWithoutNullStreams
  const outcomes: Outcome[] = []
  let current: number | undefined
  let output = ''
  let timer: NodeJS.Timeout | undefined
  const arm = (): void => {
    clearTimeout(timer)
    timer = setTimeout(() => { output += `\n(no result within ${sampleTimeoutMs} ms)`; child.kill('SIGKILL') }, sampleTimeoutMs)
  }
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.on('message', (message: { start?: number, index?: number, ok?: boolean, error?: string }) => {
    if (message.start !== undefined) {
      current = message.start
      output = ''
      arm()
    } else if (message.index !== undefined) {
      outcomes.push({ index: message.index, ok: message.ok === true, ...(message.error === undefined ? {} : { error: message.error }), output })
      current = undefined
      if (message.ok !== true) child.kill('SIGKILL')
    }
  })
  arm()
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      const index = current ?? files.find(([index]) => !outcomes.some((outcome) => outcome.index === index))?.[0]
      if (outcomes.length < files.length && !outcomes.some((outcome) => !outcome.ok) && index !== undefined) {
        outcomes.push({ index, ok: false, error: `the runner exited (code ${code}, signal ${signal}) during this sample`, output })
      }
      resolve(outcomes)
    })
    child.send(files)
  })
}
