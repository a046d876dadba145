#!/usr/bin/env node
/**
 * The `fastify-oidc-provider` command (package.json `bin`, compiled to dist/cli/bin.js):
 *
 *   npx fastify-oidc-provider keys generate [--alg RS256|PS256|ES256] [--dir keys]
 *   npx fastify-oidc-provider keys rotate   [--alg ...] [--dir keys]
 *   npx fastify-oidc-provider keys jwks     [--dir keys] [--pretty]
 *
 * Only the entry point lives here; the commands sit beside it so they stay small.
 */
import { runCli } from './main.js'

runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env })
  .then((code) => { process.exitCode = code })
  .catch((error: unknown) => {
    // runCli reports expected failures itself; reaching here is a bug, so show the stack.
    console.error(error)
    process.exitCode = 1
  })
