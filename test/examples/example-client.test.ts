import t from 'tap'
import { spawn } from 'node:child_process'
import { freePort, startServer } from '../helpers/server.js'
import { HttpBrowser } from '../helpers/http-browser.js'
import { testUsers } from '../helpers/users.js'
import { childEnv } from '../helpers/child-env.js'
import { fromRoot } from '../helpers/paths.js'

t.test('the example relying party logs in and prints the ID token claims', async (t) => {
  const { issuer } = await startServer(t, { users: testUsers, registration: {} })
  const clientPort = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', fromRoot('examples', 'client.ts')], {
    env: childEnv({ ISSUER: issuer, CLIENT_PORT: String(clientPort) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => { child.kill() })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))

  let url: string | undefined
  // A deadline, generous: tsx start-up took tens of seconds on a loaded machine.
  for (const deadline = Date.now() + 120_000; url === undefined && Date.now() < deadline;) {
    url = /^(http:\/\/\S+\/authorize\?\S+)$/m.exec(output)?.[1]
    if (url === undefined) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.ok(url, `the client printed an authorization URL:\n${output}`)
  const browser = new HttpBrowser()
  const callback = await browser.authorize(new URL(url!), { username: 'demo', password: 'demo' })
  t.equal(callback.origin, `http://127.0.0.1:${clientPort}`)
  const landing = await fetch(callback)
  t.equal(landing.status, 200)
  t.match(await landing.text(), /Signed in as Demo User/)
  t.equal(await exited, 0, 'the client exits after the login')
  t.match(output, /ID token claims:/)
  t.match(output, /"sub": "demo"/)
  t.match(output, /"email": "demo@example.com"/)
})
