/** Where a command writes, and the environment it reads: injected so tests can run it in-process. */
export interface CliIo {
  stdout: { write (text: string): unknown }
  stderr: { write (text: string): unknown }
  env: Record<string, string | undefined>
}

/** A mistake in how the command was called: printed with a hint to `--help`, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** Exit statuses, as in most Unix tools: 1 the command failed, 2 it was called wrongly. */
export const exitCodes = { ok: 0, failure: 1, usage: 2 } as const
