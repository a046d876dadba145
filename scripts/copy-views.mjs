// tsc compiles lib/ to dist/ but copies no other file. The plugin reads its page templates from
// http/pages/views next to install.js, and PostgresStore its SQL migrations from
// adapters/store/migrations next to postgres-migrate.js.
import { cpSync } from 'node:fs'
cpSync('lib/http/pages/views', 'dist/http/pages/views', { recursive: true })
cpSync('lib/adapters/store/migrations', 'dist/adapters/store/migrations', { recursive: true })
