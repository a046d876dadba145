// Copies tap's coverage report into reports/ and fails when lib/ is under the bar.
// tap's own bar is all-or-nothing (100 %); ours is 90 % of lines and branches of lib/.
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs'
import { relative, resolve } from 'node:path'

const bar = Number(process.env.COVERAGE_BAR ?? 90)
const source = '.tap/report'
const summaryFile = `${source}/coverage-summary.json`
if (!existsSync(summaryFile)) {
  console.error('check-coverage: no coverage summary at .tap/report (did tap run with coverage?)')
  process.exit(1)
}
rmSync('reports', { recursive: true, force: true })
cpSync(source, 'reports/coverage', { recursive: true })

const summary = JSON.parse(readFileSync(summaryFile, 'utf8'))
const lib = resolve('lib')
const totals = { lines: { covered: 0, total: 0 }, branches: { covered: 0, total: 0 } }
for (const [file, metrics] of Object.entries(summary)) {
  if (file === 'total' || relative(lib, resolve(file)).startsWith('..')) continue
  for (const kind of ['lines', 'branches']) {
    totals[kind].covered += metrics[kind].covered
    totals[kind].total += metrics[kind].total
  }
}
let failed = false
for (const [kind, { covered, total }] of Object.entries(totals)) {
  const pct = total === 0 ? 100 : (100 * covered) / total
  const ok = pct >= bar
  failed ||= !ok
  console.log(`coverage of lib/ ${kind}: ${pct.toFixed(2)} % (${covered}/${total}) ${ok ? 'ok' : `below ${bar} %`}`)
}
console.log('coverage report: reports/coverage/index.html')
process.exit(failed ? 1 : 0)
