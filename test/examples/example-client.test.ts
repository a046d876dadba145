import t from 'tap'
import { runExampleClient } from '../../examples/client.js'
import { freePort, startServer } from '../helpers/server.js'
import { HttpBrowser } from '../helpers/http-browser.js'
import { testUsers } from '../helpers/users.js'

/*
 * `npm run example:client` (examples/client.ts) as its main runs it, in-process: runExampleClient
 * with the ISSUER and CLIENT_PORT it would read. A tsx child cost seconds to tens of seconds of
 * start-up on a loaded machine; what the process adds (reading two variables, exit code 1 on
 * a rejection) is the four lines under the main guard.
 */
t.test('the example relying party logs in and prints the ID token claims', async (t) => {
  const { issuer } = await startServer(t, { users: testUsers, registration: {} })
  const clientPort = await freePort()
  const lines: string[] = []
  let printedUrl: (url: string) => void = () => {}
  const urlPrinted = new Promise<string>((resolve) => { printedUrl = resolve })
  const done = runExampleClient({
    issuer: new URL(issuer),
    port: clientPort,
    print: (line) => {
      lines.push(line)
      const url = /^(http:\/\/\S+\/authorize\?\S+)$/.exec(line)?.[1]
      if (url !== undefined) printedUrl(url)
    },
  })
  // A client that fails before it prints the URL must fail the test, not hang it.
  const url = await Promise.race([urlPrinted, done.then(() => { throw new Error('the client ended before printing a URL') })])
  const output = (): string => lines.join('\n')
  t.match(output(), /^Registered client \S+\.\nOpen this URL in a browser and sign in as demo \/ demo:\n/, `the client printed an authorization URL:\n${output()}`)
  const browser = new HttpBrowser()
  const callback = await browser.authorize(new URL(url), { username: 'demo', password: 'demo' })
  t.equal(callback.origin, `http://127.0.0.1:${clientPort}`)
  const landing = await fetch(callback)
  t.equal(landing.status, 200)
  t.match(await landing.text(), /Signed in as Demo User/)
  await t.resolves(done, 'the client finishes after the login (the process would exit 0)')
  t.match(output(), /ID token claims:/)
  t.match(output(), /"sub": "demo"/)
  t.match(output(), /"email": "demo@example.com"/)
})
