// Compiles lib/, test/ and examples/ to .test-build/ (JavaScript with source maps) for `npm test`.
// tap's TypeScript loader compiled lib/ again in every test process, 3-4 s of CPU per file before
// a test ran; one tsc run costs that once. Types are checked by `npm run typecheck`, so the emit
// skips checking (noCheck). Coverage is mapped back to lib/*.ts through the source maps.
import { execFileSync } from 'node:child_process'
import { cpSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'

const out = '.test-build'
rmSync(out, { recursive: true, force: true })
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.test.json'], { stdio: 'inherit' })
// What the compiled code reads next to itself: the page templates (lib/http/pages/install.ts), the
// PostgreSQL migrations (lib/adapters/store/postgres-migrate.ts) and package.json (lib/cli/main.ts
// reads its version two folders up).
cpSync('lib/http/pages/views', `${out}/lib/http/pages/views`, { recursive: true })
cpSync('lib/adapters/store/migrations', `${out}/lib/adapters/store/migrations`, { recursive: true })
cpSync('package.json', `${out}/package.json`)
