// tsc compiles lib/ to dist/ but does not copy the page templates; the plugin reads them
// from ./views next to plugin.js.
import { cpSync } from 'node:fs'
cpSync('lib/views', 'dist/views', { recursive: true })
