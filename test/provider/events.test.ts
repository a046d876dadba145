import t from 'tap'
import { Writable } from 'node:stream'
import { MemoryStore, type SecurityEvents } from '../../lib/index.js'
import { buildApp } from '../helpers/app.js'
import { runCodeFlow } from '../helpers/flow.js'
import { testUsers } from '../helpers/users.js'

t.test('security events are logged and emitted with ids, never with secrets', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const secret = 'rp-secret-0123456789abcdef'
  const app = await buildApp(t, {
    store: new MemoryStore(),
    users: testUsers,
    clients: [{ client_id: 'rp', client_secret: secret, redirect_uris: ['https://rp.example.com/cb'], grant_types: ['authorization_code', 'refresh_token'] }],
  }, { logger: { level: 'info', stream } })
  const seen: Array<keyof SecurityEvents> = []
  for (const name of ['login.failure', 'login.success', 'consent.granted', 'token.issued', 'code.replayed'] as const) {
    app.oidc.on(name, () => { seen.push(name) })
  }

  const failed = await runCodeFlow(app, { clientId: 'rp', redirectUri: 'https://rp.example.com/cb', password: 'hunter2-wrong' }).catch((error: Error) => error)
  t.type(failed, Error, 'a wrong password does not get through')
  const flow = await runCodeFlow(app, { clientId: 'rp', redirectUri: 'https://rp.example.com/cb' })
  const exchange = () => app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'authorization_code', code: flow.code!, redirect_uri: 'https://rp.example.com/cb', code_verifier: flow.verifier, client_id: 'rp', client_secret: secret }).toString(),
  })
  const tokens = (await exchange()).json() as { access_token: string, refresh_token: string, id_token: string }
  t.equal((await exchange()).statusCode, 400, 'replay refused')

  t.same([...new Set(seen)].sort(), ['code.replayed', 'consent.granted', 'login.failure', 'login.success', 'token.issued'])
  const log = lines.join('')
  for (const event of ['login.failure', 'login.success', 'consent.granted', 'token.issued', 'code.replayed']) {
    t.match(log, new RegExp(`"event":"${event.replace('.', '\\.')}"`), `${event} is logged`)
  }
  t.match(log, /"clientId":"rp"/)
  t.match(log, /"accountId":"demo"/)
  for (const [name, value] of Object.entries({ password: 'hunter2-wrong', demoPassword: '"demo"', secret, code: flow.code!, verifier: flow.verifier, access: tokens.access_token, refresh: tokens.refresh_token, id: tokens.id_token })) {
    if (name === 'demoPassword') continue // "demo" is also the username and account id
    t.notOk(log.includes(value), `the ${name} never reaches the log`)
  }
})
