/**
 * Annotated screenshots of the provider's pages, taken from the running example server with
 * Debian's Chromium: `npm run docs:screenshots` writes docs/screenshots/*.png.
 *
 * Each page is captured at phone width, then placed beside numbered callouts that explain what
 * the user sees (the numbers are drawn on the page at the element they describe).
 */
import { mkdtemp, mkdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createHash, randomBytes } from 'node:crypto'
import { chromium, type Page } from 'playwright-core'
import { buildExampleServer } from '../examples/server.js'

const outDir = fileURLToPath(new URL('../docs/screenshots/', import.meta.url))
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const port = Number(process.env.PORT ?? 3999)
const issuer = `http://127.0.0.1:${port}`

interface Callout { selector: string, note: string }

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

async function annotate (page: Page, name: string, title: string, callouts: Callout[]): Promise<void> {
  const boxes = []
  for (const callout of callouts) {
    const box = await page.locator(callout.selector).first().boundingBox()
    if (box === null) throw new Error(`${name}: no element for ${callout.selector}`)
    boxes.push(box)
  }
  const shot = (await page.screenshot()).toString('base64')
  const viewport = page.viewportSize()!
  // Numbers sit in the left margin, level with their element, so they never cover the page's text.
  const markers = boxes.map((box, index) => `<div class="mark" style="left:8px;top:${Math.max(4, box.y + box.height / 2 - 13)}px">${index + 1}</div>` +
    `<div class="outline" style="left:${box.x - 3}px;top:${box.y - 3}px;width:${box.width + 6}px;height:${box.height + 6}px"></div>`).join('')
  const notes = callouts.map((callout, index) => `<li><span class="num">${index + 1}</span>${escapeHtml(callout.note)}</li>`).join('')
  const sheet = await page.context().newPage()
  await sheet.setViewportSize({ width: viewport.width + 460, height: viewport.height + 60 })
  await sheet.setContent(`<!doctype html><html><head><style>
    body { margin: 0; font: 15px/1.45 system-ui, sans-serif; background: #fff; color: #111827; }
    .wrap { display: flex; gap: 28px; padding: 30px; }
    .shot { position: relative; width: ${viewport.width}px; height: ${viewport.height}px; border: 1px solid #d1d5db; border-radius: 10px; overflow: hidden; flex: none; }
    .shot img { display: block; }
    .mark { position: absolute; width: 26px; height: 26px; border-radius: 50%; background: #dc2626; color: #fff; font-weight: 700; text-align: center; line-height: 26px; box-shadow: 0 1px 3px rgba(0,0,0,.4); }
    .outline { position: absolute; border: 2px dashed #dc2626; border-radius: 8px; }
    h2 { margin: 0 0 14px; font-size: 19px; }
    ol { list-style: none; padding: 0; margin: 0; }
    li { display: flex; gap: 10px; margin: 0 0 14px; }
    .num { flex: none; width: 24px; height: 24px; border-radius: 50%; background: #dc2626; color: #fff; font-weight: 700; text-align: center; line-height: 24px; }
  </style></head><body><div class="wrap">
    <div class="shot"><img src="data:image/png;base64,${shot}">${markers}</div>
    <div><h2>${escapeHtml(title)}</h2><ol>${notes}</ol></div>
  </div></body></html>`)
  await sheet.locator('.wrap').screenshot({ path: join(outDir, `${name}.png`) })
  await sheet.close()
  console.log(`docs/screenshots/${name}.png`)
}

async function main (): Promise<void> {
  const keysDir = await mkdtemp(join(tmpdir(), 'oidc-screenshots-'))
  const { app } = await buildExampleServer({ PORT: String(port), ISSUER: issuer, KEYS_DIR: keysDir, LOG_LEVEL: 'warn', SECRET_KEY: randomBytes(32).toString('base64url') })
  await app.listen({ port, host: '127.0.0.1' })
  const browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
  try {
    await mkdir(outDir, { recursive: true })
    const registered = await app.inject({
      method: 'POST',
      url: '/register',
      payload: { client_name: 'Acme Photos', redirect_uris: [`${issuer}/callback`], token_endpoint_auth_method: 'none', scope: 'openid profile email', client_uri: 'https://photos.example.com', policy_uri: 'https://photos.example.com/privacy' },
    })
    const clientId = (registered.json() as { client_id: string }).client_id
    const verifier = randomBytes(32).toString('base64url')
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: `${issuer}/callback`,
      scope: 'openid profile email',
      state: 'demo-state',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    })
    const context = await browser.newContext({ viewport: { width: 420, height: 640 }, deviceScaleFactor: 1 })
    const page = await context.newPage()

    await page.goto(`${issuer}/authorize?${query}`)
    await annotate(page, 'login', 'The login page', [
      { selector: 'p.sub', note: 'The application asking for the login, by its registered name (escaped: a name full of HTML shows as text).' },
      { selector: '#username', note: 'Username; pre-filled from login_hint when the application sends one.' },
      { selector: '#password', note: 'Password, checked against a scrypt hash in constant time.' },
      { selector: 'button[type=submit]', note: 'Posts the form with a CSRF token bound to this request and browser. No JavaScript on the page; strict CSP.' },
    ])

    await page.fill('#username', 'demo')
    await page.fill('#password', 'not-the-password')
    await page.click('button[type=submit]')
    await annotate(page, 'login-error', 'A failed login', [
      { selector: '#login-error', note: 'One message for a wrong password and an unknown user, so accounts cannot be enumerated.' },
      { selector: '#username', note: 'The username is kept; after 10 failures in 15 minutes the login is locked (429, Retry-After).' },
    ])

    await page.fill('#password', 'demo')
    await page.click('button[type=submit]')
    await page.waitForURL(/\/consent\?/)
    await annotate(page, 'consent', 'The consent page', [
      { selector: 'p.sub', note: 'Who asks, and which account they will see.' },
      { selector: 'ul.scopes', note: 'What the requested scopes share, in plain words. Never more than the application requested.' },
      { selector: 'p.muted code', note: 'Where the browser is sent next: the registered redirect_uri.' },
      { selector: 'button[value=approve]', note: 'Allow records the consent: next time these scopes are granted without asking.' },
      { selector: 'button[value=deny]', note: 'Deny sends access_denied back to the application.' },
    ])

    await page.goto(`${issuer}/authorize?${new URLSearchParams({ ...Object.fromEntries(query), redirect_uri: 'https://attacker.example/steal' })}`)
    await annotate(page, 'error', 'An error page', [
      { selector: 'h1', note: 'Shown instead of a redirect when the client or redirect_uri cannot be trusted: an unregistered redirect_uri never receives anything.' },
      { selector: 'p.alert', note: 'What went wrong, without internals.' },
      { selector: 'code', note: 'The RFC error code, for the application developer.' },
    ])
  } finally {
    await browser.close()
    await app.close()
    await rm(keysDir, { recursive: true, force: true })
  }
}

await main()
