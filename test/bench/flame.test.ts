import t from 'tap'
import { bar, buildTree, folded, frameName, lastModuleLoadingMs, renderTree } from '../../bench/flame.js'
import type { Profile } from '../../bench/profile-summary.js'

// A profile small enough to add up by hand. The repository is file:///repo/. Nodes 5 and 6 are
// two V8 nodes for one printed frame (two files of one package), which the tree merges.
const root = 'file:///repo/'
const frame = (functionName: string, url = ''): Profile['nodes'][number]['callFrame'] => ({ functionName, url, lineNumber: 0 })
const profile: Profile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 4] },
    { id: 2, callFrame: frame('(idle)') },
    { id: 3, callFrame: frame('main', 'file:///repo/lib/a.ts'), children: [5, 6] },
    { id: 4, callFrame: frame('(garbage collector)') },
    { id: 5, callFrame: frame('helper', 'file:///repo/node_modules/@scope/pkg/dist/x.js'), children: [7] },
    { id: 6, callFrame: frame('helper', 'file:///repo/node_modules/@scope/pkg/dist/y.js') },
    { id: 7, callFrame: frame('write', 'node:net') },
  ],
  // At 100, 200, 400, 700, 1000, 1100, 1200 and 2000 µs from the start.
  samples: [2, 3, 5, 7, 7, 6, 4, 2],
  timeDeltas: [100, 100, 200, 300, 300, 100, 100, 800],
  startTime: 0,
  endTime: 2000,
}

t.test('frames are named function and file, a package by its name only', async (t) => {
  t.equal(frameName(frame('f', 'file:///repo/lib/x/y.ts'), root), 'f lib/x/y.ts')
  t.equal(frameName(frame('f', 'file:///repo/node_modules/fastify/lib/route.js'), root), 'f fastify')
  t.equal(frameName(frame('', 'node:events'), root), '(anonymous) node:events')
  t.equal(frameName(frame('(program)'), root), '(program)')
})

t.test('the tree merges one frame\'s nodes and counts samples, not time deltas', async (t) => {
  const tree = buildTree(profile, {}, root)
  // 8 samples; by time, the last idle sample's 800 µs would make idle 45 %, not 25 %.
  t.equal(tree.total, 8)
  t.same(tree.children.map((child) => [child.name, child.total, child.self]), [
    ['main lib/a.ts', 5, 1],
    ['(idle)', 2, 2],
    ['(garbage collector)', 1, 1],
  ])
  const helper = tree.children[0]!.children
  t.same(helper.map((child) => [child.name, child.total, child.self]), [['helper @scope/pkg', 4, 2]])
  t.same(helper[0]!.children.map((child) => [child.name, child.total]), [['write node:net', 2]])
})

t.test('a window leaves the other samples out', async (t) => {
  const tree = buildTree(profile, { fromUs: 1000 }, root)
  t.equal(tree.total, 4)
  const main = tree.children.find((child) => child.name === 'main lib/a.ts')!
  t.same([main.total, main.self, main.children[0]!.self, main.children[0]!.children[0]!.total], [2, 0, 1, 1])
  t.equal(buildTree(profile, { fromUs: 0, toUs: 400 }, root).total, 2)
})

t.test('folded stacks: one line per stack with its self samples, the root implied', async (t) => {
  t.same(folded(buildTree(profile, {}, root)), [
    'main lib/a.ts 1',
    'main lib/a.ts;helper @scope/pkg 2',
    'main lib/a.ts;helper @scope/pkg;write node:net 2',
    '(idle) 2',
    '(garbage collector) 1',
  ])
})

t.test('the text graph prunes, collapses pass-through chains and keeps V8 buckets', async (t) => {
  const tree = buildTree(profile, {}, root)
  const names = (lines: string[]): string[] => lines.map((line) => line.slice(10))
  // --full: one line a frame; the 12.5 % GC stays though under the 15 % threshold.
  t.same(names(renderTree(tree, { minPercent: 15, maxDepth: Infinity, full: true })), [
    ' 100.0 %   0.0 %  (root)',
    '  62.5 %  12.5 %    main lib/a.ts',
    '  50.0 %  25.0 %      helper @scope/pkg',
    '  25.0 %  25.0 %        write node:net',
    '  25.0 %  25.0 %    (idle)',
    '  12.5 %  12.5 %    (garbage collector)',
  ])
  // main has no self share over 15 % and one callee over it: one line, helper's self share.
  t.same(names(renderTree(tree, { minPercent: 15, maxDepth: 1 })), [
    ' 100.0 %   0.0 %  (root)',
    '  62.5 %  25.0 %    main lib/a.ts › helper @scope/pkg',
    '  25.0 %  25.0 %    (idle)',
    '  12.5 %  12.5 %    (garbage collector)',
  ])
  // At 10 %, main's own 12.5 % is a reason to show it alone: nothing collapses.
  t.equal(renderTree(tree, { minPercent: 10, maxDepth: Infinity }).length, 6)
  t.equal(renderTree(tree, { minPercent: 10, maxDepth: Infinity })[1]!.slice(0, 10), '██████▎   ')
})

t.test('bars are a tenth of the share in eighths of a character', async (t) => {
  t.equal(bar(41.2), '████▏     ')
  t.equal(bar(100), '██████████')
  t.equal(bar(0), ' '.repeat(10))
  t.equal(bar(5), '▌         ')
  t.equal(bar(6.25), '▋         ')
})

t.test('the end of module loading is found through the callers', async (t) => {
  const loading: Profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 4] },
      { id: 2, callFrame: frame('import', 'node:internal/modules/esm/loader'), children: [3] },
      { id: 3, callFrame: frame('evaluate', 'file:///repo/lib/a.ts') },
      { id: 4, callFrame: frame('serve', 'file:///repo/lib/b.ts') },
    ],
    samples: [2, 3, 4, 4],
    timeDeltas: [1000, 2000, 3000, 4000],
    startTime: 0,
    endTime: 10_000,
  }
  t.equal(lastModuleLoadingMs(loading), 3)
  t.equal(lastModuleLoadingMs({ ...loading, samples: [4, 4, 4, 4] }), undefined)
})
