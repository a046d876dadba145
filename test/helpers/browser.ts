import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'
import type { Test } from 'tap'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/**
 * Launches Debian's Chromium (never a downloaded browser: there is no internet here). Returns
 * undefined when it is missing, so the caller skips locally; under CI=true a missing browser
 * fails instead (CI must run the browser tests).
 */
export async function launchBrowser (t: Test): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM_PATH)) {
    const message = `Chromium not found at ${CHROMIUM_PATH}: install it with "apt-get install -y chromium" to run the browser tests`
    if (process.env.CI === 'true') t.fail(message)
    else t.pass('needs Chromium', { skip: message })
    return undefined
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  })
  t.teardown(() => browser.close())
  return browser
}
