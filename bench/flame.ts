/**
 * A text flame graph of a V8 CPU profile (`--cpu-prof`, as bench/profile-one.ts writes it), small
 * enough for a fenced block in a markdown file: the top-down call tree of the main thread, one
 * frame a line, with its inclusive share (itself and its callees: the bar), and its self share.
 *
 *   npx tsx bench/flame.ts some.cpuprofile                       # frames >= 1.5 % of the samples
 *   npx tsx bench/flame.ts some.cpuprofile --min 3 --depth 12 --from-ms 2500
 *   npx tsx bench/flame.ts some.cpuprofile --last-ms 5000             # profile-one's measured run
 *   npx tsx bench/flame.ts some.cpuprofile --full                # every frame on its own line
 *   npx tsx bench/flame.ts some.cpuprofile --folded > out.folded # for speedscope / flamegraph.pl
 *
 * Shares are of the samples in the window (counts, not time deltas: see buildTree), `(idle)`
 * included, so the root is 100 % and the
 * idle time the load left on the table stays visible. `--from-ms` drops the samples of the first
 * milliseconds (the server's start-up: module loading under node:internal/modules; the script
 * prints on stderr when the last module-loading sample was taken, as a hint for that value);
 * `--last-ms` keeps the last milliseconds only, which for bench/profile-one.ts is its measured
 * run (BENCH_DURATION), the warm-up and the start-up left out.
 * `--folded` prints Brendan Gregg's folded stacks (`a;b;c count`, sample counts of the same
 * window): flamegraph.pl or speedscope draw them.
 */
import { fileURLToPath } from 'node:url'
import { area, readProfile, selfTimes, shortUrl, type Profile, type ProfileNode } from './profile-summary.js'

/** One frame of the merged call tree, weighed in samples. */
export interface FlameNode {
  name: string
  /** Samples taken in this frame itself. */
  self: number
  /** Samples taken in it or its callees. */
  total: number
  children: FlameNode[]
}

export interface FlameOptions {
  /** Frames under this share (percent) of the window, inclusive, are left out. */
  minPercent: number
  /** Levels below the root printed; deeper time stays in the last printed frame's share. */
  maxDepth: number
}

/** Which samples count, in microseconds from the profile's first sample: [fromUs, toUs). */
export interface Window { fromUs?: number, toUs?: number }

const repositoryRoot = new URL('../', import.meta.url).href

/**
 * `function file`, the file relative to the repository: a frame in node_modules is named by its
 * package only (its inner file says little in a flame graph), the runtime's frames by their
 * node: module, V8's own buckets ((idle), (program), (garbage collector)) by themselves.
 */
export function frameName (callFrame: ProfileNode['callFrame'], root = repositoryRoot): string {
  const name = callFrame.functionName === '' ? '(anonymous)' : callFrame.functionName
  const { url } = callFrame
  if (url === '') return name
  if (url.includes('/node_modules/')) return `${name} ${area(url)}`
  if (url.startsWith(root)) return `${name} ${url.slice(root.length)}`
  return `${name} ${shortUrl(url)}`
}

/**
 * The call tree with its self and inclusive sample counts, from the samples in the window only.
 * Samples, not time deltas: on a loaded machine V8's sampler thread itself is sometimes not
 * scheduled, and the gap (431 ms seen) would be charged to the one frame that ran when sampling
 * resumed (a cheap string function showed 9 % from 5 samples). A count weighs every tick the
 * same. Either way the sampler counts wall time while the thread is not idle: a main thread
 * preempted (by the pool thread it just woke, say) keeps its frame's share. V8 can keep two sibling nodes for one function (another line, a
 * deoptimized copy); they are merged by their printed name, so a frame appears once under its
 * caller.
 */
export function buildTree (profile: Profile, window: Window = {}, root = repositoryRoot): FlameNode {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = selfTimes(profile, window.fromUs, window.toUs, () => 1)
  // The root is the node no other node names as a child (V8 writes it first, but do not rely on it).
  const childIds = new Set(profile.nodes.flatMap((node) => node.children ?? []))
  const top = profile.nodes.find((node) => !childIds.has(node.id))
  if (top === undefined) throw new Error('the profile has no root node')
  const walk = (node: ProfileNode, into: FlameNode): void => {
    into.self += self.get(node.id) ?? 0
    for (const childId of node.children ?? []) {
      const child = byId.get(childId)!
      const name = frameName(child.callFrame, root)
      let merged = into.children.find((candidate) => candidate.name === name)
      if (merged === undefined) {
        merged = { name, self: 0, total: 0, children: [] }
        into.children.push(merged)
      }
      walk(child, merged)
    }
  }
  const tree: FlameNode = { name: '(root)', self: 0, total: 0, children: [] }
  walk(top, tree)
  sumTotals(tree)
  return tree
}

/** Fills in inclusive counts bottom-up and orders callees by them, the heaviest first. */
function sumTotals (node: FlameNode): number {
  node.total = node.self + node.children.reduce((sum, child) => sum + sumTotals(child), 0)
  node.children.sort((a, b) => b.total - a.total)
  return node.total
}

const v8Buckets = new Set(['(idle)', '(program)', '(garbage collector)'])

const eighths = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉']

/** A bar of `width` characters for 100 %, in eighths of a character. */
export function bar (percent: number, width = 10): string {
  const units = Math.round(Math.max(0, Math.min(100, percent)) / 100 * width * 8)
  return ('█'.repeat(Math.floor(units / 8)) + eighths[units % 8]!).padEnd(width)
}

/**
 * The text flame graph: `bar inclusive % self % name`, indented two spaces a level. Unless
 * `full`, a pass-through chain (frames with one callee over the threshold and no self share
 * over it: a promise tick, a stream's write path) is one line, `first › … n … › last`, with the
 * first frame's inclusive share and the last one's self share: the markdown block stays short
 * and the frames that matter stay named. The depth counts printed lines.
 */
export function renderTree (tree: FlameNode, options: FlameOptions & { full?: boolean }): string[] {
  const lines: string[] = []
  const whole = tree.total === 0 ? 1 : tree.total
  const share = (samples: number): number => samples / whole * 100
  const percent = (samples: number): string => `${share(samples).toFixed(1).padStart(5)} %`
  // V8's own buckets stay at the root whatever their share: how much was idle, or GC, is part of the answer.
  const shown = (node: FlameNode): FlameNode[] => node.children.filter((child) =>
    share(child.total) >= options.minPercent || (node === tree && v8Buckets.has(child.name)))
  const visit = (node: FlameNode, depth: number): void => {
    const chain = [node]
    let last = node
    while (options.full !== true && share(last.self) < options.minPercent && shown(last).length === 1) {
      last = shown(last)[0]!
      chain.push(last)
    }
    const name = chain.length === 1
      ? node.name
      : chain.length === 2 ? `${node.name} › ${last.name}` : `${node.name} › … ${chain.length - 2} … › ${last.name}`
    lines.push(`${bar(share(node.total))} ${percent(node.total)} ${percent(last.self)}  ${'  '.repeat(depth)}${name}`)
    if (depth >= options.maxDepth) return
    for (const child of shown(last)) visit(child, depth + 1)
  }
  visit(tree, 0)
  return lines
}

/** Folded stacks, one line per root-to-frame path with its self samples: `a;b;c count`. */
export function folded (tree: FlameNode): string[] {
  const lines: string[] = []
  const visit = (node: FlameNode, stack: string[]): void => {
    // `;` separates frames and the last space the weight: a frame name keeps neither ambiguous.
    const path = [...stack, node.name.replaceAll(';', ':')]
    if (node.self > 0) lines.push(`${path.join(';')} ${node.self}`)
    for (const child of node.children) visit(child, path)
  }
  // The root is implied by every stack, as in perf's folded output.
  for (const child of tree.children) visit(child, [])
  return lines
}

/**
 * When the last sample inside module loading was taken, in ms from the profile's start: the
 * end of the start-up, unless code is loaded lazily later (then the value says so too).
 */
export function lastModuleLoadingMs (profile: Profile): number | undefined {
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const loading = new Map<number, boolean>()
  const isLoading = (id: number): boolean => {
    const known = loading.get(id)
    if (known !== undefined) return known
    const here = byId.get(id)!.callFrame.url.startsWith('node:internal/modules/')
    const result = here || (parent.has(id) && isLoading(parent.get(id)!))
    loading.set(id, result)
    return result
  }
  let at = 0
  let last: number | undefined
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0
    if (isLoading(profile.samples[i]!)) last = at
  }
  return last === undefined ? undefined : Math.round(last / 1000)
}

function option (args: string[], name: string, fallback: number): number {
  const index = args.indexOf(name)
  if (index < 0) return fallback
  const value = Number(args[index + 1])
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} needs a number >= 0`)
  return value
}

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const file = args.find((arg, index) => !arg.startsWith('--') && (index === 0 || !['--min', '--depth', '--from-ms', '--last-ms'].includes(args[index - 1]!)))
  if (file === undefined) throw new Error('usage: tsx bench/flame.ts <file.cpuprofile> [--min 1.5] [--depth N] [--from-ms N | --last-ms N] [--full] [--folded]')
  const profile = await readProfile(file)
  const sampledUs = profile.timeDeltas.reduce((sum, delta) => sum + delta, 0)
  // --last-ms: profile-one closes the server right after the measured run, so the last seconds
  // of the profile are the measured phase (the start-up and the warm-up come before it).
  const lastMs = option(args, '--last-ms', Infinity)
  const fromMs = lastMs === Infinity ? option(args, '--from-ms', 0) : Math.max(0, sampledUs / 1000 - lastMs)
  const tree = buildTree(profile, { fromUs: fromMs * 1000 })
  if (args.includes('--folded')) {
    console.log(folded(tree).join('\n'))
    return
  }
  const loadingMs = lastModuleLoadingMs(profile)
  console.error(`${file}: ${Math.round(sampledUs / 1000)} ms profiled, last module-loading sample at ${loadingMs ?? '-'} ms, window from ${Math.round(fromMs)} ms`)
  const idle = tree.children.find((child) => child.name === '(idle)')?.total ?? 0
  console.log(`${tree.total} samples in ${Math.round(sampledUs / 1000 - fromMs)} ms, ${tree.total - idle} of them busy (not idle)`)
  console.log('inclusive    incl.   self  frame')
  const options = { minPercent: option(args, '--min', 1.5), maxDepth: option(args, '--depth', Infinity), full: args.includes('--full') }
  console.log(renderTree(tree, options).join('\n'))
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(error)
    process.exit(1)
  })
}
