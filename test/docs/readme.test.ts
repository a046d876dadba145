import t from 'tap'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { requireRedis } from '../helpers/redis.js'
import { childEnv } from '../helpers/child-env.js'
import { fromRoot, repoRoot } from '../helpers/paths.js'

const root = repoRoot
const runner = fromRoot('test', 'helpers', 'readme-runner.ts')
/** Per sample, as before: a sample that neither finishes nor fails within this is a failure. */
const sampleTimeoutMs = 60_000

/**
 * Every TypeScript sample in the README and in the guides (docs/*.md) runs as written: the package import is pointed at lib/,
 * and each sample must run to its end without an error (what "exits 0" meant when each sample
 * had `process.exit(0)` appended and ran in a tsx process of its own). One tsx process costs
 * seconds on a loaded machine, so one runner process (test/helpers/readme-runner.ts) imports
 * the samples one after another and reports each over IPC; a sample that kills its process or
 * hangs fails alone, and a fresh runner goes on with the next one.
 */
t.setTimeout(300_000)

interface Outcome { index: number, ok: boolean, error?: string, output: string }

/** Runs `files` (index → path) in runner processes until each has an outcome. */
async function runSamples (files: Array<[number, string]>): Promise<Outcome[]> {
  const outcomes: Outcome[] = []
  let pending = files
  while (pending.length > 0) {
    const done = await runOnce(pending)
    outcomes.push(...done)
    // The runner stops at the first failure (its process may be in any state): go on after it.
    const last = done.at(-1)?.index ?? Number.NEGATIVE_INFINITY
    pending = pending.filter(([index]) => index > last)
  }
  return outcomes
}

/** One runner process over `files`; resolves when it exits (or is killed for a hung sample). */
function runOnce (files: Array<[number, string]>): Promise<Outcome[]> {
  const env = childEnv({ PORT: '0' })
  delete env.SECRET_KEY
  const child = spawn(process.execPath, ['--import', 'tsx', runner], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }) as ChildProcessWithoutNullStreams
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

/** README.md and every guide under docs/ (the guides other changes add are picked up by the glob). */
async function documents (): Promise<string[]> {
  const guides = (await readdir(join(root, 'docs'))).filter((name) => name.endsWith('.md')).sort()
  return ['README.md', ...guides.map((name) => join('docs', name))]
}

interface Sample { file: string, ordinal: number, source: string }

t.test('README and guide TypeScript samples run as written', async (t) => {
  const samples: Sample[] = []
  for (const file of await documents()) {
    const text = await readFile(join(root, file), 'utf8')
    for (const [ordinal, match] of [...text.matchAll(/```ts\n([\s\S]*?)```/g)].entries()) samples.push({ file, ordinal, source: match[1]! })
  }
  t.ok(samples.filter((sample) => sample.file === 'README.md').length >= 1, 'the README has a sample')
  t.ok(samples.length >= 20, `found ${samples.length} samples`)
  const dir = join(root, '.tap', 'readme-samples')
  await mkdir(dir, { recursive: true })
  const files: Array<[number, string]> = []
  let redis: boolean | undefined
  for (const [index, sample] of samples.entries()) {
    if (sample.source.includes("from 'ioredis'")) {
      redis ??= (await requireRedis(t)) !== undefined
      if (!redis) continue
    }
    const file = join(dir, `sample-${index}.ts`)
    const source = sample.source.replaceAll("from 'fastify-oidc-provider'", `from '${join(root, 'lib', 'index.ts')}'`)
      .replaceAll("from 'fastify-oidc-provider/resource-server'", `from '${join(root, 'lib', 'resource-server', 'index.ts')}'`)
    // `export {}`: a module even without imports. A sample that listens gets PORT=0: a free port.
    await writeFile(file, `${source}\nexport {}\n`)
    files.push([index, file])
  }
  const outcomes = await runSamples(files)
  t.same(outcomes.map((outcome) => outcome.index), files.map(([index]) => index), 'every sample has an outcome, in order')
  for (const outcome of outcomes) {
    const sample = samples[outcome.index]!
    const name = `${sample.file} sample ${sample.ordinal + 1}`
    if (outcome.ok) t.pass(`${name} ran: ${outcome.output.trim().split('\n').at(-1)?.slice(0, 80) ?? ''}`)
    else t.fail(`${name} failed: ${outcome.error ?? ''}\n${outcome.output}\n${sample.source.slice(0, 200)}`)
  }
})
