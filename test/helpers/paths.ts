import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The repository's root: the nearest folder above this file that holds tsconfig.json (the build
 * copies package.json, which lib/cli reads relative to itself, but not that). Tests run
 * compiled from .test-build/ (see scripts/build-tests.mjs) or from source with tsx, so a path
 * relative to `import.meta.url` would point into the build in one case and the source in the
 * other; what a test starts as a child (the CLI, the examples, the README runner) and the files
 * it reads (package.json, README.md, keys/) are the source tree's, found from here.
 */
function findRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'tsconfig.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('test/helpers/paths: no tsconfig.json above this file')
    dir = parent
  }
  return dir
}

export const repoRoot = findRoot()

/** A path inside the repository's source tree, e.g. `fromRoot('examples', 'server.ts')`. */
export function fromRoot (...segments: string[]): string {
  return join(repoRoot, ...segments)
}
