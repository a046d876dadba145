/**
 * Summarizes V8 CPU profiles (`--cpu-prof`, written by `BENCH_CPU_PROF=1 npm run bench`): the
 * functions with the most self time, and the same grouped by package or project folder, so a
 * hot spot shows whether it is ours (lib/), Fastify's, ioredis', or the runtime's.
 *
 *   npx tsx bench/profile-summary.ts reports/cpu-prof            # every profile in the folder
 *   npx tsx bench/profile-summary.ts some.cpuprofile --top 40
 *
 * Self time is the time a function itself ran (not its callees). `(program)`, `(idle)` and
 * `(garbage collector)` are V8's own buckets; work in the libuv thread pool (RSA signing)
 * is not in a CPU profile at all: the profile samples the main thread only.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'

export interface CallFrame { functionName: string, url: string, lineNumber: number }
export interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
export interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

/** Reads one `.cpuprofile` (V8's JSON, as `--cpu-prof` writes it). */
export async function readProfile (file: string): Promise<Profile> {
  return JSON.parse(await readFile(file, 'utf8')) as Profile
}

/**
 * Self time per node id: by default microseconds, `timeDeltas[i]` charged to sample i; with
 * `weigh`, whatever it makes of each sample (1: a sample count). Only samples taken in
 * [fromUs, toUs) (counted from the profile's first sample) count, so a caller can leave out the
 * server's start-up.
 */
export function selfTimes (profile: Profile, fromUs = 0, toUs = Infinity, weigh = (delta: number): number => delta): Map<number, number> {
  const self = new Map<number, number>()
  let at = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0
    at += delta
    if (at < fromUs || at >= toUs) continue
    const id = profile.samples[i]!
    self.set(id, (self.get(id) ?? 0) + weigh(delta))
  }
  return self
}

/** Where a function lives: a package under node_modules, a project folder, or the runtime. */
export function area (url: string): string {
  if (url === '') return '(runtime)'
  if (url.startsWith('node:')) return url.split('/')[0]!
  const modules = url.lastIndexOf('/node_modules/')
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  const project = /\/(lib|bench|examples)\/(.*)$/.exec(url)
  if (project !== null) return `${project[1]}/${project[2]!.split('/').slice(0, -1).join('/') || '.'}`.replace(/\/\.$/, '')
  return url
}

export function shortUrl (url: string): string {
  const modules = url.lastIndexOf('/node_modules/')
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length)
  const project = /\/((lib|bench|examples)\/.*)$/.exec(url)
  return project?.[1] ?? url
}

export interface ProfileSummary {
  file: string
  totalMs: number
  idleMs: number
  functions: Array<{ name: string, where: string, selfMs: number, share: number }>
  areas: Array<{ area: string, selfMs: number, share: number }>
}

export function summarize (file: string, profile: Profile, top: number): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = selfTimes(profile)
  const functions = new Map<string, { name: string, where: string, selfUs: number }>()
  const areas = new Map<string, number>()
  let totalUs = 0
  let idleUs = 0
  for (const [id, us] of self) {
    const { callFrame } = byId.get(id)!
    if (callFrame.functionName === '(idle)') { idleUs += us; continue }
    totalUs += us
    const name = callFrame.functionName === '' ? '(anonymous)' : callFrame.functionName
    const where = callFrame.url === '' ? '' : `${shortUrl(callFrame.url)}:${callFrame.lineNumber + 1}`
    const key = `${name} ${where}`
    const entry = functions.get(key) ?? { name, where, selfUs: 0 }
    entry.selfUs += us
    functions.set(key, entry)
    const group = callFrame.url === '' ? callFrame.functionName : area(callFrame.url)
    areas.set(group, (areas.get(group) ?? 0) + us)
  }
  const ms = (us: number): number => Math.round(us / 100) / 10
  const share = (us: number): number => Math.round(us / totalUs * 1000) / 10
  return {
    file,
    totalMs: ms(totalUs),
    idleMs: ms(idleUs),
    functions: [...functions.values()].sort((a, b) => b.selfUs - a.selfUs).slice(0, top)
      .map((entry) => ({ name: entry.name, where: entry.where, selfMs: ms(entry.selfUs), share: share(entry.selfUs) })),
    areas: [...areas].sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([name, us]) => ({ area: name, selfMs: ms(us), share: share(us) })),
  }
}

export async function profilesIn (path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path]
  return (await readdir(path)).filter((name) => name.endsWith('.cpuprofile')).sort().map((name) => join(path, name))
}

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const topIndex = args.indexOf('--top')
  const top = topIndex >= 0 ? Number(args[topIndex + 1]) : 25
  const paths = args.filter((_arg, index) => index !== topIndex && index !== topIndex + 1)
  if (paths.length === 0) throw new Error('usage: tsx bench/profile-summary.ts <file.cpuprofile | folder> [--top N]')
  for (const path of paths) {
    for (const file of await profilesIn(path)) {
      const summary = summarize(file, await readProfile(file), top)
      console.log(`\n${file}: ${summary.totalMs} ms on the main thread (idle ${summary.idleMs} ms)`)
      console.log('  self ms   share  function')
      for (const entry of summary.functions) {
        console.log(`${entry.selfMs.toFixed(1).padStart(9)} ${entry.share.toFixed(1).padStart(6)}%  ${entry.name} ${entry.where}`)
      }
      console.log('  by area:')
      for (const entry of summary.areas) console.log(`${entry.selfMs.toFixed(1).padStart(9)} ${entry.share.toFixed(1).padStart(6)}%  ${entry.area}`)
    }
  }
}

// Run as a script only (bench/profile-one.ts imports `summarize`).
if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\/bench\//, '/bench/'))) {
  main().catch((error: unknown) => {
    console.error(error)
    process.exit(1)
  })
}
