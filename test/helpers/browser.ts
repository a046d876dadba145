import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'
import tap, { type Test } from 'tap'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

let shared: Promise<Browser> | undefined

/**
 * Launches Debian's Chromium (never a downloaded browser: there is no internet here). Returns
 * undefined when it is missing, so the caller skips locally; under CI=true a missing browser
 * fails instead (CI must run the browser tests).
 *
 * One browser per test file: a launch costs seconds on a loaded machine, so later subtests get
 * the same browser, closed when the file ends. Isolation is per context (cookies, storage):
 * `browser.newPage()` and `browser.newContext()` each open a new one, and the contexts a
 * subtest opened are closed at its teardown.
 */
export async function launchBrowser (t: Test): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM_PATH)) {
    const message = `Chromium not found at ${CHROMIUM_PATH}: install it with "apt-get install -y chromium" to run the browser tests`
    if (process.env.CI === 'true') t.fail(message)
    else t.pass('needs Chromium', { skip: message })
    return undefined
  }
  if (shared === undefined) {
    shared = chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    })
    tap.teardown(async () => { await (await shared)?.close() })
  }
  const browser = await shared
  const before = new Set(browser.contexts())
  t.teardown(async () => {
    await Promise.all(browser.contexts().filter((context) => !before.has(context)).map(async (context) => await context.close()))
  })
  return browser
}
