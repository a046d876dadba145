import { readFileSync } from 'node:fs'
import { type CliIo, UsageError, exitCodes } from './io.js'
import { keysCommand, keysUsage } from './keys.js'

const usage = `Usage: fastify-oidc-provider <command> [options]

Commands:
  keys generate   write a new signing key and print its kid
  keys rotate     add a new signing key, keep the previous ones published
  keys jwks       print the public JWKS, exactly as /jwks.json serves it

Options:
  -h, --help      show help (also after a command: keys --help)
  -v, --version   print the package version

${keysUsage}`

/**
 * Runs the CLI with `argv` (without `node` and the script) and resolves to the exit status.
 * Never throws for bad input or a failing command: it prints `error: ...` to stderr instead.
 */
export async function runCli (argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case undefined:
        throw new UsageError('missing command')
      case '-h':
      case '--help':
      case 'help':
        io.stdout.write(usage)
        return exitCodes.ok
      case '-v':
      case '--version':
        io.stdout.write(`${packageVersion()}\n`)
        return exitCodes.ok
      case 'keys':
        return await keysCommand(rest, io)
      default:
        throw new UsageError(`unknown command "${command}"`)
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`error: ${error.message}\nRun "fastify-oidc-provider --help" for usage.\n`)
      return exitCodes.usage
    }
    // Key files that do not parse, a folder that cannot be written...: the message is enough.
    io.stderr.write(`error: ${(error as Error).message}\n`)
    return exitCodes.failure
  }
}

function packageVersion (): string {
  // lib/cli/main.ts and dist/cli/main.js both sit two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}
