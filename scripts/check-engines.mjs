// What `npm ci` would warn about (EBADENGINE) on the running Node, read from the lock file: every
// installed package whose `engines.node` this Node does not satisfy. `.ci/run` installs once (on
// the machine's Node) and runs the suite on each Node line of package.json's `engines`; this
// repeats the install's engine check for each of them without installing again.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const semver = createRequire(import.meta.url)('semver')
const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8'))
const node = process.versions.node
const refused = []
for (const [path, entry] of Object.entries(lock.packages)) {
  const range = path === '' ? entry.engines?.node : (Array.isArray(entry.engines) ? undefined : entry.engines?.node)
  if (typeof range === 'string' && !semver.satisfies(node, range)) refused.push(`${path === '' ? 'this package' : path}@${entry.version ?? ''} needs node ${range}`)
}
if (refused.length > 0) {
  console.error(`check-engines: Node ${node} is refused by:\n  ${refused.join('\n  ')}`)
  process.exit(1)
}
console.log(`check-engines: every package of the lock file accepts Node ${node}`)
