import t, { type Test } from 'tap'
import type { Browser, Page } from 'playwright-core'
import type { DeviceAuthorizationResponse } from 'openid-client'
import { buildCustomLoginServer } from '../../examples/custom-login.js'
import { runDeviceCli } from '../../examples/device.js'
import { launchBrowser } from '../helpers/browser.js'
import { startExampleServer } from '../helpers/example-server.js'

/*
 * `npm run example:device` end to end: the CLI (openid-client's initiateDeviceAuthorization and
 * pollDeviceAuthorizationGrant) against the example server, the user's part in Chromium, on
 * the built-in pages and on example:custom-login's host pages. One browser for the file; the
 * polling interval is 1 s so a run waits about a second for the device.
 */

/** Runs the CLI; resolves with what the user must open, and the CLI's result and output. */
async function startCli (issuer: string): Promise<{ started: DeviceAuthorizationResponse, done: Promise<string>, output: string[] }> {
  const output: string[] = []
  let onStarted!: (started: DeviceAuthorizationResponse) => void
  const started = new Promise<DeviceAuthorizationResponse>((resolve) => { onStarted = resolve })
  const done = runDeviceCli({ issuer: new URL(issuer), scope: 'openid profile', print: (line) => output.push(line), onStarted })
  // A CLI that fails before it starts must fail the test, not hang it.
  return await Promise.race([started.then((value) => ({ started: value, done, output })), done.then(() => { throw new Error('the CLI ended before starting') })])
}

/** Opens verification_uri_complete: the code is filled in, and nothing happens until the user confirms it (§5.4). */
async function confirmCode (t: Test, page: Page, started: DeviceAuthorizationResponse): Promise<void> {
  await page.goto(started.verification_uri_complete!)
  t.equal(await page.inputValue('#user_code'), started.user_code, 'verification_uri_complete fills the code in')
  t.match(await page.textContent('p.sub'), /Check that this code matches/, 'and asks the user to confirm it')
  await page.click('button[type=submit]')
}

let browser: Browser | undefined

t.test('example:device on the built-in pages: code, login, consent naming the client, "close this window"', async (t) => {
  browser = await launchBrowser(t)
  if (browser === undefined) return
  const { issuer } = await startExampleServer(t, { SECRET_KEY: 's'.repeat(32) }, { provider: { deviceFlow: { interval: 1 } }, algorithms: ['RS256'] })
  const cli = await startCli(issuer)
  t.match(cli.output.join('\n'), new RegExp(`enter the code ${cli.started.user_code}`), 'the CLI prints the code and the URL')
  t.match(cli.output.join('\n'), /[▀▄█]/, 'and a QR code')

  const page = await browser.newPage()
  await confirmCode(t, page, cli.started)
  await page.fill('#username', 'demo')
  await page.fill('#password', 'demo')
  await page.click('button[type=submit]')
  // The example server offers a passkey after a password sign-in: "Not now".
  await page.click('#passkey-skip')
  await page.waitForURL(/\/consent\?/)
  t.match(await page.textContent('h1'), /Device example CLI/, 'the consent names the client')
  t.match(await page.textContent('#device-warning'), /Allow it only if you started this sign-in yourself/)
  t.match(await page.textContent('ul.scopes'), /basic profile/, 'and shows what it asks for')
  await page.click('button[value=approve]')
  await page.waitForSelector('#device-result')
  t.match(await page.textContent('#device-result'), /You can close this window/)
  t.equal(await cli.done, 'Demo User', 'the CLI polled, got tokens and read the name from userinfo')
})

t.test('example:device on example:custom-login: the host\'s sign-in and consent pages serve the device too', async (t) => {
  browser = await launchBrowser(t)
  if (browser === undefined) return
  const { issuer } = await startExampleServer(t, { SECRET_KEY: 's'.repeat(32) }, { build: buildCustomLoginServer, provider: { deviceFlow: { interval: 1 } }, algorithms: ['RS256'] })
  const cli = await startCli(issuer)
  const page = await browser.newPage()
  await confirmCode(t, page, cli.started)
  await page.waitForURL(/\/sign-in\?/)
  await page.fill('#username', 'demo')
  await page.fill('#password', 'demo')
  await page.click('#sign-in')
  // The example host offers a passkey after a password sign-in too: "Not now".
  await page.click('#passkey-skip')
  await page.waitForURL(/\/approve\?/)
  t.match(await page.textContent('#device-note'), /A device or command-line tool asks to sign in as you/, 'the host page knows it is a device sign-in')
  await page.click('#approve')
  await page.waitForSelector('#device-result')
  t.match(await page.textContent('#device-result'), /Device example CLI is now signed in\. You can close this window/)
  t.equal(await cli.done, 'Demo User')
})
