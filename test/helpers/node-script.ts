import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fromRoot, repoRoot } from './paths.js'

/** The root of the tree this helper runs from: `.test-build/` when compiled, else the repository. */
const runningRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const compiled = import.meta.url.endsWith('.js')
const tsx = import.meta.resolve('tsx')

/** The compiled JavaScript of a source script, when this helper runs compiled and it was built. */
function builtScript (segments: string[]): string | undefined {
  if (!compiled) return undefined
  const built = join(runningRoot, ...segments).replace(/\.ts$/, '.js')
  return existsSync(built) ? built : undefined
}

/**
 * The Node arguments that run a repository script (the CLI, the example server) as a child.
 * Under `npm test` the tests run compiled (scripts/build-tests.mjs), and so does the child: the
 * same script's JavaScript beside them in `.test-build/`, started by plain `node` as the
 * published `bin` is, without a tsx start-up (about a second of CPU per child, more under load).
 * Run from source (`node --import tsx test/x.test.ts`), the child is the source through tsx.
 *
 * @example
 * spawn(process.execPath, [...nodeScript('examples', 'server.ts')], { env })
 */
export function nodeScript (...segments: string[]): string[] {
  const built = builtScript(segments)
  return built !== undefined ? [built] : ['--import', tsx, fromRoot(...segments)]
}

/**
 * The tree `nodeScript(...segments)` runs the script from (`.test-build/` or the repository):
 * where the script's own relative paths point, e.g. the example server's default `keys/`.
 */
export function scriptRoot (...segments: string[]): string {
  return builtScript(segments) !== undefined ? runningRoot : repoRoot
}
