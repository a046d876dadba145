import t from 'tap'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { requireRedis } from '../helpers/redis.js'
import { fromRoot } from '../helpers/paths.js'
import { documents, runnable, runSamples, sampleName, samplesOf } from '../helpers/doc-samples.js'

/**
 * Every TypeScript sample in the README and in the guides (docs/*.md) runs as written: the
 * package import is pointed at lib/, and each sample must run to its end without an error (what
 * "exits 0" meant when each sample had `process.exit(0)` appended and ran in a tsx process of
 * its own). One runner process (test/helpers/readme-runner.ts) imports the samples one after
 * another and reports each over IPC; a sample that kills its process or hangs fails alone, and a
 * fresh runner goes on with the next one.
 */
t.setTimeout(300_000)

t.test('README and guide TypeScript samples run as written', async (t) => {
  const samples = await samplesOf(await documents())
  t.ok(samples.some((sample) => sample.file === 'README.md'), 'the README has a sample')
  t.ok(samples.length >= 20, `found ${samples.length} samples`)
  const dir = fromRoot('.tap', 'readme-samples')
  await mkdir(dir, { recursive: true })
  const files: Array<[number, string]> = []
  let redis: boolean | undefined
  for (const [index, sample] of samples.entries()) {
    if (sample.source.includes("from 'ioredis'")) {
      redis ??= (await requireRedis(t)) !== undefined
      if (!redis) continue
    }
    const file = join(dir, `sample-${index}.ts`)
    await writeFile(file, runnable(sample.source))
    files.push([index, file])
  }
  const outcomes = await runSamples(files)
  t.same(outcomes.map((outcome) => outcome.index), files.map(([index]) => index), 'every sample has an outcome, in order')
  for (const outcome of outcomes) {
    const sample = samples[outcome.index]!
    if (outcome.ok) t.pass(`${sampleName(sample)} ran: ${outcome.output.trim().split('\n').at(-1)?.slice(0, 80) ?? ''}`)
    else t.fail(`${sampleName(sample)} failed: ${outcome.error ?? ''}\n${outcome.output}\n${sample.source.slice(0, 200)}`)
  }
})
