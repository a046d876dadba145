/**
 * Runs README samples in one process for test/docs/readme.test.ts (started with `node --import tsx`,
 * the list of `[index, file]` sent over IPC): each sample is imported in turn and must finish
 * without an error. Reports `{ start }` before a sample and `{ index, ok, error? }` after it.
 * An error, an uncaught exception or an unhandled rejection fails the current sample and ends
 * this process (the test starts a fresh runner for the samples after it); at the end the
 * process exits 0 whatever the samples left open (servers, connections), as the
 * `process.exit(0)` each sample used to get did.
 */
import { pathToFileURL } from 'node:url'

let current: number | undefined

function send (message: Record<string, unknown>): Promise<void> {
  return new Promise((resolve) => { process.send?.(message, () => { resolve() }) })
}

function describe (error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error)
}

async function fail (error: unknown): Promise<never> {
  if (current !== undefined) await send({ index: current, ok: false, error: describe(error) })
  else console.error(error)
  process.exit(1)
}

process.on('uncaughtException', (error) => { fail(error).catch(() => process.exit(1)) })
process.on('unhandledRejection', (error) => { fail(error).catch(() => process.exit(1)) })

process.once('message', (files: Array<[number, string]>) => {
  (async () => {
    for (const [index, file] of files) {
      current = index
      await send({ start: index })
      try {
        await import(pathToFileURL(file).href)
      } catch (error) {
        await fail(error)
      }
      // A rejection from the sample's last statements surfaces now, while it is still current.
      await new Promise((resolve) => setImmediate(resolve))
      await send({ index, ok: true })
    }
    current = undefined
    process.exit(0)
  })().catch(fail)
})
