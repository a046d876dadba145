import t, { type Test } from 'tap'
import { cruise, type ICruiseResult } from 'dependency-cruiser'
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options'
import { fromRoot } from '../helpers/paths.js'

// The rule set `npm run lint` checks lib/ with, loaded from the very file the lint uses (not a
// copy), run against small trees laid out like lib/. Each case asserts the exact set of rule
// names reported, so a rule that stops matching, or starts matching too much, fails here.
const options = await extractDepcruiseOptions(fromRoot('.dependency-cruiser.cjs'))

type Tree = { [name: string]: string | Tree }

// A clean tree: every import goes down the layer order, one of them type-only.
// 11 modules, 14 imports (counted by the first test, so a resolution failure cannot make the
// other cases pass for want of edges).
function cleanTree (): { lib: Tree } {
  return {
    lib: {
      'index.ts': "export { plugin } from './provider/plugin.js'\nexport type { ResourceServer } from './resource-server/plugin.js'\n",
      contracts: {
        'store.ts': 'export interface Store { get (key: string): string | undefined }\n',
        'errors.ts': 'export class OAuthError extends Error {}\n',
      },
      tokens: {
        'crypto.ts': "import type { Store } from '../contracts/store.js'\nimport { OAuthError } from '../contracts/errors.js'\nexport const read = (store: Store, key: string): string => store.get(key) ?? (() => { throw new OAuthError(key) })()\n",
      },
      http: {
        'cors.ts': "import { read } from '../tokens/crypto.js'\nexport const cors = read\n",
      },
      adapters: {
        store: {
          'memory.ts': "import type { Store } from '../../contracts/store.js'\nexport const memory = (): Store => ({ get: () => undefined })\n",
        },
      },
      clients: {
        'lookup.ts': "import { cors } from '../http/cors.js'\nimport type { Store } from '../contracts/store.js'\nexport const lookup = (store: Store, id: string) => cors(store, id)\n",
      },
      routes: {
        'token.ts': "import { lookup } from '../clients/lookup.js'\nexport const token = lookup\n",
      },
      provider: {
        'plugin.ts': "import { token } from '../routes/token.js'\nimport { memory } from '../adapters/store/memory.js'\nexport const plugin = () => token(memory(), 'x')\n",
      },
      'resource-server': {
        'plugin.ts': "import { read } from '../tokens/crypto.js'\nimport { OAuthError } from '../contracts/errors.js'\nexport type ResourceServer = typeof read\nexport const fail = () => new OAuthError('x')\n",
      },
      cli: {
        'main.ts': "import { memory } from '../adapters/store/memory.js'\nexport const main = memory\n",
      },
    },
  }
}

/** The clean tree with some files added or replaced (paths relative to lib/). */
function withFiles (files: Record<string, string>): { lib: Tree } {
  const tree = cleanTree()
  for (const [path, text] of Object.entries(files)) {
    const parts = path.split('/')
    let dir: Tree = tree.lib
    for (const part of parts.slice(0, -1)) {
      const next = dir[part] ??= {}
      if (typeof next === 'string') throw new Error(`${part} is a file`)
      dir = next
    }
    dir[parts.at(-1)!] = text
  }
  return tree
}

async function cruiseTree (t: Test, tree: { lib: Tree }): Promise<ICruiseResult> {
  // baseDir: paths come out as lib/..., as they do for `depcruise lib` at the repository's root.
  const { output } = await cruise(['lib'], { ...options, baseDir: t.testdir(tree) })
  if (typeof output === 'string') throw new Error('expected a cruise result, got formatted output')
  return output
}

/** The names of the rules broken, each once, sorted. */
function ruleNames (result: ICruiseResult): string[] {
  return [...new Set(result.summary.violations.map((violation) => violation.rule.name))].sort()
}

/** Each cycle found by no-circular, as the sorted files in it (dependency-cruiser reports a cycle once). */
function cycles (result: ICruiseResult): string[][] {
  return result.summary.violations
    .filter((violation) => violation.rule.name === 'no-circular')
    .map((violation) => [violation.from, ...(violation.cycle ?? []).map((step) => step.name)])
    .map((files) => [...new Set(files)].sort())
}

t.test('the lint uses the rule set, with type-only imports counted', async (t) => {
  t.equal(options.validate, true)
  t.equal(options.tsPreCompilationDeps, true, 'import type must count for cycles')
  const names = (options.ruleSet?.forbidden ?? []).map((rule) => rule.name)
  for (const name of ['no-circular', 'no-folder-cycles', 'contracts-import-nothing', 'adapters-stay-low', 'resource-server-imports-contracts-and-tokens',
    'only-index-imports-provider', 'routes-only-from-provider', 'not-to-unresolvable', 'layer-order:tokens', 'layer-order:cli']) {
    t.ok(names.includes(name), name)
  }
})

t.test('a clean tree has no violations, and every import resolved', async (t) => {
  const result = await cruiseTree(t, cleanTree())
  t.same(result.summary.violations, [])
  t.equal(result.summary.error, 0)
  t.equal(result.summary.totalCruised, 11, 'modules')
  t.equal(result.summary.totalDependenciesCruised, 14, 'imports')
  const dependencies = result.modules.flatMap((module) => module.dependencies)
  t.same(dependencies.filter((dependency) => dependency.couldNotResolve), [], 'a `.js` specifier resolves to its `.ts` file')
  t.ok(dependencies.every((dependency) => /^lib\/.+\.ts$/.test(dependency.resolved)), 'every import lands on a lib/ file')
  const typeOnly = dependencies.filter((dependency) => dependency.dependencyTypes.includes('type-only'))
  t.equal(typeOnly.length, 4, 'the `import type` and `export type` edges are in the graph')
})

t.test('two files importing each other: no-circular', async (t) => {
  const result = await cruiseTree(t, withFiles({
    'tokens/a.ts': "import { b } from './b.js'\nexport const a = () => b\n",
    'tokens/b.ts': "import { a } from './a.js'\nexport const b = () => a\n",
  }))
  t.same(ruleNames(result), ['no-circular'])
  t.same(cycles(result), [['lib/tokens/a.ts', 'lib/tokens/b.ts']], 'one cycle, reported once')
})

t.test('a cycle of type-only imports: no-circular', async (t) => {
  const result = await cruiseTree(t, withFiles({
    'contracts/a.ts': "import type { B } from './b.js'\nexport interface A { b: B }\n",
    'contracts/b.ts': "import type { A } from './a.js'\nexport interface B { a: A }\n",
  }))
  t.same(ruleNames(result), ['no-circular'])
  t.same(cycles(result), [['lib/contracts/a.ts', 'lib/contracts/b.ts']])
  t.ok(result.summary.violations[0]?.cycle?.every((step) => step.dependencyTypes.includes('type-only')), 'through type-only imports')
})

t.test('contracts/ importing a concern: contracts-import-nothing', async (t) => {
  const result = await cruiseTree(t, withFiles({
    'tokens/t.ts': 'export type Token = string\n',
    'contracts/c.ts': "import type { Token } from '../tokens/t.js'\nexport interface C { token: Token }\n",
  }))
  // tokens/ already imports contracts/, so the two folders now import each other as well.
  t.same(ruleNames(result), ['contracts-import-nothing', 'no-folder-cycles'])
  t.ok(result.summary.violations.some((violation) => violation.rule.name === 'contracts-import-nothing' &&
    violation.from === 'lib/contracts/c.ts' && violation.to === 'lib/tokens/t.ts'))
})

t.test('a lower layer importing a higher one: layer-order:<folder>', async (t) => {
  const result = await cruiseTree(t, withFiles({
    'interactions/engine.ts': "import { OAuthError } from '../contracts/errors.js'\nexport const engine = () => new OAuthError('login_required')\n",
    'tokens/late.ts': "import { engine } from '../interactions/engine.js'\nexport const late = engine\n",
  }))
  t.same(ruleNames(result), ['layer-order:tokens'])
  t.match(result.summary.violations, [{ from: 'lib/tokens/late.ts', to: 'lib/interactions/engine.ts' }])
})

t.test('two folders importing each other through different files: no-folder-cycles', async (t) => {
  // No module cycle: tokens/x -> http/y, http/cors -> tokens/crypto.
  const result = await cruiseTree(t, withFiles({
    'http/y.ts': 'export const y = 1\n',
    'tokens/x.ts': "import { y } from '../http/y.js'\nexport const x = y\n",
  }))
  t.same(ruleNames(result), ['layer-order:tokens', 'no-folder-cycles'])
  t.ok(result.summary.violations.some((violation) => violation.rule.name === 'no-folder-cycles' && violation.type === 'cycle'))
})

t.test('provider/ imported from outside lib/index.ts: only-index-imports-provider', async (t) => {
  const result = await cruiseTree(t, withFiles({
    'grants/issue.ts': "import { plugin } from '../provider/plugin.js'\nexport const issue = plugin\n",
  }))
  t.same(ruleNames(result), ['layer-order:grants', 'only-index-imports-provider'])
})

t.test('resource-server/ importing clients/: resource-server-imports-contracts-and-tokens', async (t) => {
  const result = await cruiseTree(t, withFiles({
    'resource-server/audience.ts': "import { lookup } from '../clients/lookup.js'\nexport const audience = lookup\n",
  }))
  t.same(ruleNames(result), ['resource-server-imports-contracts-and-tokens'])
})

t.test('adapters/ importing grants/: adapters-stay-low', async (t) => {
  const result = await cruiseTree(t, withFiles({
    'grants/types.ts': 'export type GrantType = string\n',
    'adapters/store/grants.ts': "import type { GrantType } from '../../grants/types.js'\nexport const grants: GrantType[] = []\n",
  }))
  t.same(ruleNames(result), ['adapters-stay-low', 'layer-order:adapters'])
})

t.test('routes/ imported from outside provider/: routes-only-from-provider', async (t) => {
  const result = await cruiseTree(t, withFiles({
    'interactions/engine.ts': "import { token } from '../routes/token.js'\nexport const engine = token\n",
  }))
  t.same(ruleNames(result), ['layer-order:interactions', 'routes-only-from-provider'])
})

t.test('cli/ beyond contracts, tokens and adapters: layer-order:cli', async (t) => {
  const result = await cruiseTree(t, withFiles({
    'cli/serve.ts': "import { cors } from '../http/cors.js'\nexport const serve = cors\n",
  }))
  t.same(ruleNames(result), ['layer-order:cli'])
})

t.test('an import that does not resolve: not-to-unresolvable', async (t) => {
  const result = await cruiseTree(t, withFiles({
    'tokens/gone.ts': "import { nothing } from './nothing.js'\nexport const gone = nothing\n",
  }))
  t.same(ruleNames(result), ['not-to-unresolvable'])
})

t.test('a folder missing from the layer table: layer-table-lists-every-folder', async (t) => {
  const result = await cruiseTree(t, withFiles({
    'misc/x.ts': "import { OAuthError } from '../contracts/errors.js'\nexport const x = OAuthError\n",
  }))
  t.same(ruleNames(result), ['layer-table-lists-every-folder'])
})
