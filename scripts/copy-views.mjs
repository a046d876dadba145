// tsc compiles lib/ to dist/ but does not copy the page templates; the plugin reads them
// from lib/http/pages/views next to install.js.
import { cpSync } from 'node:fs'
cpSync('lib/http/pages/views', 'dist/http/pages/views', { recursive: true })
