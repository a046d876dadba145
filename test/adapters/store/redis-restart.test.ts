/**
 * Restarting the provider loses nothing that lives in Redis (issue 6): clients, tokens, codes and
 * login sessions issued by the old instance keep working on its replacement, which shares only
 * the Redis prefix, the signing key and the cookie secret with it.
 */
import t from 'tap'
import { rm } from 'node:fs/promises'
import { exampleKeysDir } from '../../helpers/example-keys.js'
import { HttpBrowser, requestTimeoutMs } from '../../helpers/http-browser.js'
import { deleteKeys, REDIS_URL, requireRedis, requireRedisServer, startRedisServer, testPrefix } from '../../helpers/redis.js'
import {
  basicAuth,
  introspect,
  redeem,
  refresh,
  registerClient,
  splitCodeFlow,
  startInstance,
  userinfo,
  type TokenResponse,
} from '../../helpers/redis-instances.js'
import { startExampleServer } from '../../helpers/example-server.js'
import { fullFlow, obtainCode, postForm, redeemCode } from '../../helpers/redis-http.js'

t.test('a new instance on the same prefix and keys takes over everything the closed one issued', async (t) => {
  const admin = await requireRedis(t)
  if (admin === undefined) return
  const prefix = testPrefix()
  t.teardown(() => deleteKeys(admin, prefix))

  const before = await startInstance(REDIS_URL, prefix)
  t.teardown(() => before.close())
  const client = await registerClient(before.app)
  const flow = await splitCodeFlow([before.app], client)
  const tokens = (await redeem(before.app, client, flow)).json<TokenResponse>()
  t.ok(tokens.refresh_token, 'tokens issued before the restart')
  // A second authorization, SSO on the same session, whose code is only redeemed after the restart.
  const pending = await splitCodeFlow([before.app], client, { jar: flow.jar })
  await before.close()

  const after = await startInstance(REDIS_URL, prefix)
  t.teardown(() => after.close())
  const { app } = after

  const read = await app.inject({ url: new URL(client.registration_client_uri).pathname, headers: { authorization: `Bearer ${client.registration_access_token}` } })
  t.equal(read.statusCode, 200, 'the registration access token still reads the client (RFC 7592)')
  t.match(await introspect(app, client, tokens.access_token), { active: true, sub: 'demo' }, 'the client still authenticates; its access token is active')
  const refused = await app.inject({
    method: 'POST',
    url: '/introspect',
    payload: `token=${tokens.access_token}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...basicAuth({ ...client, client_secret: `${client.client_secret}x` }) },
  })
  t.equal(refused.statusCode, 401, 'a wrong secret is still refused: the stored hash is what is checked')

  const info = await userinfo(app, tokens.access_token)
  t.equal(info.statusCode, 200, 'the access token issued before works at userinfo')
  t.equal(info.json().sub, 'demo')
  const refreshed = await refresh(app, client, tokens.refresh_token)
  t.equal(refreshed.statusCode, 200, 'the refresh token issued before refreshes')
  t.not(refreshed.json().refresh_token, tokens.refresh_token, 'and rotates')
  t.equal((await redeem(app, client, pending)).statusCode, 200, 'a code issued before is redeemed after')

  const sso = await splitCodeFlow([app], client, { jar: flow.jar })
  t.same(sso.steps.map((step) => step.what), ['authorize'], 'the session cookie still logs the user in: no login page')
  t.equal((await redeem(app, client, sso)).statusCode, 200)
})

t.test('the example server restarted on the same port, REDIS_URL, SECRET_KEY and KEYS_DIR', async (t) => {
  if (!requireRedisServer(t)) return
  const redis = await startRedisServer(t)
  const keysDir = await exampleKeysDir()
  t.teardown(() => rm(keysDir, { recursive: true, force: true }))
  const env = { REDIS_URL: redis.url, KEYS_DIR: keysDir, SECRET_KEY: 'restart-secret-'.padEnd(40, 'y') }

  const first = await startExampleServer(t, env)
  const browser = new HttpBrowser()
  const url = first.issuer
  const { client, tokens } = await fullFlow(url)
  const kid = ((await (await fetch(`${url}/jwks.json`, { signal: AbortSignal.timeout(requestTimeoutMs) })).json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid)
  const pending = await obtainCode(url, client, browser)
  await first.close()

  const second = await startExampleServer(t, { ...env, PORT: String(first.port) })
  t.equal(second.issuer, first.issuer, 'same issuer')
  const kidAfter = ((await (await fetch(`${url}/jwks.json`, { signal: AbortSignal.timeout(requestTimeoutMs) })).json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid)
  t.same(kidAfter, kid, 'the keys in KEYS_DIR at the first start are the ones loaded again')

  const info = await fetch(`${url}/userinfo`, { signal: AbortSignal.timeout(requestTimeoutMs), headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.equal(info.status, 200, 'an access token from before the restart works')
  const refreshed = await postForm(`${url}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, basicAuth(client))
  t.equal(refreshed.status, 200, 'a refresh token from before refreshes')
  t.equal((await redeemCode(url, client, pending)).status, 200, 'a code from before is redeemed')
  await obtainCode(url, client, browser)
  t.notOk(browser.sawLogin, 'the session cookie from before skips the login page')
  t.notOk(browser.sawConsent, 'and the consent recorded before skips consent')
})
