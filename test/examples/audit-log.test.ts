import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AuditRecord } from '../../lib/index.js'
import { writeAuditLog } from '../../examples/audit-log.js'
import { basic, CONFIDENTIAL, postForm, REDIRECT_URI, tokenApp } from '../helpers/codes.js'
import { CookieJar, runCodeFlow } from '../helpers/flow.js'

// The audit stream of one authorization-code flow, as the example writes it (AUDIT_LOG=path):
// one JSON line per security event, with who, what, when, client and outcome, never a token.
t.test('AUDIT_LOG: a flow, a failed login, a code replay and a refresh reuse as JSON lines', async (t) => {
  const path = join(t.testdir(), 'audit.jsonl')
  const { app } = await tokenApp(t, { refreshTokenGrace: 0 })
  const closeLog = writeAuditLog(app.oidc, path, app.log)
  const auth = { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) }

  const jar = new CookieJar()
  await t.rejects(runCodeFlow(app, { clientId: CONFIDENTIAL.client_id, redirectUri: REDIRECT_URI, jar, password: 'wrong' }))
  const flow = await runCodeFlow(app, { clientId: CONFIDENTIAL.client_id, redirectUri: REDIRECT_URI, scope: 'openid profile offline_access', jar, extra: { prompt: 'consent' } })
  const exchange = { grant_type: 'authorization_code', code: flow.code ?? '', redirect_uri: REDIRECT_URI, code_verifier: flow.verifier }
  const tokens = (await postForm(app, '/token', exchange, auth)).json() as Record<string, string>
  const refreshed = (await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token ?? '' }, auth)).json() as Record<string, string>
  t.equal((await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token ?? '' }, auth)).statusCode, 400, 'reuse')
  t.equal((await postForm(app, '/token', exchange, auth)).statusCode, 400, 'replay')
  await closeLog()

  const text = await readFile(path, 'utf8')
  const records = text.trim().split('\n').map((line) => JSON.parse(line) as AuditRecord)
  t.same(records.map((record) => record.event), [
    'login.failure', 'login.success', 'consent.granted', 'token.issued', 'token.issued', 'refresh_token.reused', 'code.replayed',
  ])
  t.match(records[0], { outcome: 'failure', clientId: 'web-app', ip: '127.0.0.1', detail: { username: 'demo' } })
  t.match(records[1], { outcome: 'success', accountId: 'demo', clientId: 'web-app' })
  t.match(records[3], { outcome: 'success', accountId: 'demo', detail: { grantType: 'authorization_code' } })
  t.match(records[5], { outcome: 'failure', clientId: 'web-app' })
  t.ok(records.every((record) => !Number.isNaN(Date.parse(record.time))), 'each has its time')
  const secrets = [flow.code, flow.verifier, tokens.access_token, tokens.refresh_token, tokens.id_token, refreshed.refresh_token, CONFIDENTIAL.client_secret, ...jar.cookies.values()]
  for (const secret of secrets) t.notOk(secret !== undefined && secret !== null && text.includes(secret), 'no token, code, secret or cookie in the log')
  t.notOk(text.includes('"wrong"'), 'never the password')
})
