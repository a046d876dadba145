import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { requireRedis } from './helpers/redis.js'
import { childEnv } from './helpers/child-env.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * Every TypeScript sample in the README runs as written: the package import is pointed at lib/,
 * each sample runs in its own Node process (tsx), and must exit 0.
 */
// Each sample is its own tsx process (seconds each on a busy machine), and there are many.
t.setTimeout(600_000)

t.test('README TypeScript samples run as written', async (t) => {
  const readme = await readFile(join(root, 'README.md'), 'utf8')
  const samples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!)
  t.ok(samples.length >= 5, `found ${samples.length} samples`)
  const dir = join(root, '.tap', 'readme-samples')
  await mkdir(dir, { recursive: true })
  for (const [index, sample] of samples.entries()) {
    if (sample.includes("from 'ioredis'") && !(await requireRedis(t))) continue
    const file = join(dir, `sample-${index}.ts`)
    const source = sample.replaceAll("from 'fastify-oidc-provider'", `from '${join(root, 'lib', 'index.ts')}'`)
      .replaceAll("from 'fastify-oidc-provider/resource-server'", `from '${join(root, 'lib', 'resource-server', 'index.ts')}'`)
    // The first sample listens: PORT=0 picks a free port; every sample then exits.
    await writeFile(file, `${source}\nprocess.exit(0)\n`)
    const env = childEnv({ PORT: '0' })
    delete env.SECRET_KEY
    try {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', file], { cwd: root, env, timeout: 60_000 })
      t.pass(`sample ${index} ran: ${stdout.trim().split('\n').at(-1)?.slice(0, 80) ?? ''}`)
    } catch (error) {
      t.fail(`sample ${index} failed: ${(error as { stderr?: string }).stderr ?? String(error)}\n${sample.slice(0, 200)}`)
    }
  }
})
