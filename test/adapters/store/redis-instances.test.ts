/**
 * Two provider instances sharing one Redis behave as one provider (issue 6): each is its own
 * Fastify app with its own ioredis connection, with the same prefix, cookie secret, signing key
 * and issuer. Races run across both connections, so "exactly one wins" is Redis's atomicity,
 * not one process's event loop. The login limit holds across them too (issue 7).
 */
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { RedisStore, type CodeConsumeResult, type GrantRecord } from '../../../lib/index.js'
import { hiddenField, CookieJar } from '../../helpers/flow.js'
import { deleteKeys, REDIS_URL, requireRedis, testPrefix } from '../../helpers/redis.js'
import {
  introspect,
  redeem,
  refresh,
  registerClient,
  splitCodeFlow,
  startInstance,
  twoInstances,
  userinfo,
  postForm,
  basicAuth,
  type TokenResponse,
} from '../../helpers/redis-instances.js'

const admin = await requireRedis(t)

if (admin !== undefined) {
  t.test('the cross-instance journey: register on A, log in across both, redeem on B, revoke on A', async (t) => {
    const [a, b] = await twoInstances(t, admin)
    const client = await registerClient(a)
    // RFC 7592 §2.1: B reads the configuration of the client A registered.
    const read = await b.inject({ url: new URL(client.registration_client_uri).pathname, headers: { authorization: `Bearer ${client.registration_access_token}` } })
    t.equal(read.statusCode, 200, 'B reads the client A registered')
    t.equal(read.json().client_id, client.client_id)

    // GET /authorize on A, login on B, consent on A ...: the interaction and its CSRF token,
    // the session and the grant all come from Redis.
    const flow = await splitCodeFlow([a, b], client)
    t.same(flow.steps.filter((step) => step.what !== 'follow').map((step) => step.what), ['authorize', 'login', 'consent'])
    t.ok(new Set(flow.steps.map((step) => step.app)).size === 2, 'both instances served part of the flow')

    const exchanged = await redeem(b, client, flow)
    t.equal(exchanged.statusCode, 200, 'the code from A is redeemed on B')
    t.equal(exchanged.headers['cache-control'], 'no-store')
    const tokens = exchanged.json<TokenResponse>()
    t.ok(tokens.refresh_token, 'a refresh token was issued')

    for (const [name, app] of [['A', a], ['B', b]] as const) {
      const info = await userinfo(app, tokens.access_token)
      t.equal(info.statusCode, 200, `userinfo on ${name}`)
      t.equal(info.json().sub, 'demo')
      t.match(await introspect(app, client, tokens.access_token), { active: true, sub: 'demo', client_id: client.client_id }, `access token active on ${name}`)
      t.match(await introspect(app, client, tokens.refresh_token), { active: true, client_id: client.client_id }, `refresh token active on ${name}`)
    }

    // SSO: A's session cookie, shown to B, skips the login page (and consent: the grant exists).
    const sso = await splitCodeFlow([b], client, { jar: flow.jar })
    t.same(sso.steps.map((step) => step.what), ['authorize'], 'B answered with a code at once: no login, no consent page')
    const ssoRedeemed = await redeem(a, client, sso)
    t.equal(ssoRedeemed.statusCode, 200, 'the SSO code from B is redeemed on A')
    const ssoTokens = ssoRedeemed.json<TokenResponse>()

    // Revocation on A is seen by B. RFC 7009 §2.1: a refresh token's revocation SHOULD also end
    // the access tokens "based on the same authorization grant", RFC 6749's grant: the code it
    // came from, i.e. its token family (design.md, wave 2). The user's consent (our grant
    // record) and the families of the user's other codes stay.
    const revoked = await postForm(a, '/revoke', { token: tokens.refresh_token, token_type_hint: 'refresh_token' }, basicAuth(client))
    t.equal(revoked.statusCode, 200)
    const afterRevoke = await userinfo(b, tokens.access_token)
    t.equal(afterRevoke.statusCode, 401, 'userinfo on B refuses the access token')
    t.match(afterRevoke.headers['www-authenticate'], /error="invalid_token"/)
    t.same(await introspect(b, client, tokens.access_token), { active: false }, 'B: access token inactive')
    t.same(await introspect(b, client, tokens.refresh_token), { active: false }, 'B: refresh token inactive')
    t.equal((await refresh(b, client, tokens.refresh_token)).json().error, 'invalid_grant', 'B refuses to refresh it')
    t.match(await introspect(b, client, ssoTokens.access_token), { active: true }, 'B: the SSO code\'s access token (another family of the grant) stays active')
    t.equal((await refresh(b, client, ssoTokens.refresh_token)).statusCode, 200, 'B: and its refresh token still refreshes')
    const after = await splitCodeFlow([b], client, { jar: flow.jar })
    t.same(after.steps.map((step) => step.what), ['authorize'], 'the consent stays: B answers with a code at once, no consent page')
  })

  t.test('20 concurrent redemptions of one code, split across A and B: exactly one 200', async (t) => {
    const [a, b] = await twoInstances(t, admin)
    const client = await registerClient(a)
    const flow = await splitCodeFlow([a, b], client)
    const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => await redeem(i % 2 === 0 ? a : b, client, flow)))
    const winners = results.filter((res) => res.statusCode === 200)
    t.equal(winners.length, 1, 'one winner')
    t.same(results.filter((res) => res.statusCode !== 200).map((res) => [res.statusCode, res.json().error]),
      Array.from({ length: 19 }, () => [400, 'invalid_grant']), 'the 19 others: 400 invalid_grant')
    // RFC 6749 §4.1.2: the replays revoke what the winning redemption issued, on both instances.
    const { access_token: accessToken } = winners[0]!.json<TokenResponse>()
    t.equal((await userinfo(a, accessToken)).statusCode, 401)
    t.equal((await userinfo(b, accessToken)).statusCode, 401)
  })

  t.test('a replay on B while A is between its consume and its grant read: A still answers 200, and what it issued is dead', async (t) => {
    // The interleaving the race above hits by chance, made certain: A's store holds its grant
    // read until B's replay has revoked the grant. (Regression: A answered invalid_grant, so
    // none of the concurrent redemptions succeeded.)
    let release = (): void => {}
    const held = new Promise<void>((resolve) => { release = resolve })
    let reached = (): void => {}
    const reading = new Promise<void>((resolve) => { reached = resolve })
    class HeldGrantRead extends RedisStore {
      // As a store that does not read the grant with the consume (a Cluster, a host's store).
      override async consumeCode (codeHash: string): Promise<CodeConsumeResult> {
        const { grant: _grant, ...result } = await super.consumeCode(codeHash)
        return result
      }

      override async getGrant (grantId: string): Promise<GrantRecord | undefined> {
        reached()
        await held
        return await super.getGrant(grantId)
      }
    }
    const prefix = testPrefix()
    const a = await startInstance(REDIS_URL, prefix, {}, (options) => new HeldGrantRead(options))
    const b = await startInstance(REDIS_URL, prefix)
    t.teardown(async () => { release(); await a.close(); await b.close(); await deleteKeys(admin, prefix) })
    const client = await registerClient(b.app)
    const flow = await splitCodeFlow([b.app], client)

    const first = redeem(a.app, client, flow)
    await reading
    const replay = await redeem(b.app, client, flow)
    t.equal(replay.json().error, 'invalid_grant', 'the replay on B is refused ...')
    release()
    const won = await first
    t.equal(won.statusCode, 200, '... and the first redemption on A still succeeds')
    const tokens = won.json<TokenResponse>()
    t.ok(tokens.id_token, 'with an id_token')
    // The replay revoked the code's family before A started it: whatever A issued is dead.
    if (tokens.refresh_token !== undefined) t.equal((await refresh(b.app, client, tokens.refresh_token)).json().error, 'invalid_grant', 'its refresh token is dead')
    t.equal((await userinfo(b.app, tokens.access_token)).statusCode, 401, 'its access token is dead (RFC 6749 §4.1.2)')
  })

  t.test('a replay on B while A is between its consume (with the grant) and its family: A answers 200, and what it issued is dead', async (t) => {
    // Issue 32: a single Redis reads the grant with the consume; the window left is before the
    // family starts. B's replay revokes the family first (a tombstone): A's start must lose.
    let release = (): void => {}
    const held = new Promise<void>((resolve) => { release = resolve })
    let reached = (): void => {}
    const starting = new Promise<void>((resolve) => { reached = resolve })
    class HeldFamilyStart extends RedisStore {
      override async startRefreshFamily (...args: Parameters<RedisStore['startRefreshFamily']>): Promise<boolean> {
        reached()
        await held
        return await super.startRefreshFamily(...args)
      }
    }
    const prefix = testPrefix()
    const a = await startInstance(REDIS_URL, prefix, {}, (options) => new HeldFamilyStart(options))
    const b = await startInstance(REDIS_URL, prefix)
    t.teardown(async () => { release(); await a.close(); await b.close(); await deleteKeys(admin, prefix) })
    const client = await registerClient(b.app)
    const flow = await splitCodeFlow([b.app], client)

    const first = redeem(a.app, client, flow)
    await starting
    t.equal((await redeem(b.app, client, flow)).json().error, 'invalid_grant', 'the replay on B is refused ...')
    release()
    const won = await first
    t.equal(won.statusCode, 200, '... and the first redemption on A still answers')
    const tokens = won.json<TokenResponse>()
    if (tokens.refresh_token !== undefined) t.equal((await refresh(b.app, client, tokens.refresh_token)).json().error, 'invalid_grant', 'its refresh token is dead')
    t.equal((await userinfo(b.app, tokens.access_token)).statusCode, 401, 'its access token is dead (RFC 6749 §4.1.2)')
  })

  t.test('a code whose grant was revoked before its redemption is refused on the other instance', async (t) => {
    const [a, b] = await twoInstances(t, admin)
    const client = await registerClient(a)
    const flow = await splitCodeFlow([a], client)
    t.equal(await a.oidc.revokeAccountGrants('demo'), 1, 'consent revoked on A')
    const res = await redeem(b, client, flow)
    t.equal(res.statusCode, 400)
    t.same(Object.keys(res.json()).sort(), ['error', 'error_description'], 'no token in the body')
    t.equal(res.json().error, 'invalid_grant')
  })

  t.test('20 concurrent refreshes of one token, split across A and B, with refreshTokenGrace 0: exactly one success', async (t) => {
    const [a, b] = await twoInstances(t, admin, { refreshTokenGrace: 0 })
    const client = await registerClient(b)
    const tokens = (await redeem(a, client, await splitCodeFlow([b, a], client))).json<TokenResponse>()
    const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => await refresh(i % 2 === 0 ? a : b, client, tokens.refresh_token)))
    t.equal(results.filter((res) => res.statusCode === 200).length, 1, 'one rotation')
    t.same(results.filter((res) => res.statusCode !== 200).map((res) => [res.statusCode, res.json().error]),
      Array.from({ length: 19 }, () => [400, 'invalid_grant']), 'the 19 others: 400 invalid_grant')
  })

  t.test('login brute force across instances: failures on A and B lock the username on both', async (t) => {
    const [a, b] = await twoInstances(t, admin, { rateLimit: { loginFailures: 3, loginWindow: 60 } })
    const client = await registerClient(a)
    const page = await a.inject({
      url: `/authorize?${new URLSearchParams({ response_type: 'code', client_id: client.client_id, redirect_uri: 'https://rp.example.com/cb', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbvZ9hoQ8JkE', code_challenge_method: 'S256' })}`,
    })
    t.equal(page.statusCode, 200)
    const jar = new CookieJar()
    jar.update(page)
    const fields = { interaction_id: hiddenField(page.body, 'interaction_id'), csrf_token: hiddenField(page.body, 'csrf_token') }
    // Each attempt from another IP, so only the per-username counter can reach the threshold.
    let ip = 10
    const login = async (app: FastifyInstance, username: string, password: string) => await app.inject({
      method: 'POST',
      url: '/authorize',
      remoteAddress: `192.0.2.${ip++}`,
      payload: new URLSearchParams({ ...fields, username, password }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
    })

    t.equal((await login(a, 'demo', 'wrong-1')).statusCode, 401, 'failure 1 on A')
    t.equal((await login(b, 'demo', 'wrong-2')).statusCode, 401, 'failure 2 on B')
    t.equal((await login(a, 'demo', 'wrong-3')).statusCode, 401, 'failure 3 on A: the shared count reaches the threshold')
    for (const [name, app] of [['B', b], ['A', a]] as const) {
      const locked = await login(app, 'demo', 'demo')
      t.equal(locked.statusCode, 429, `${name}: locked, even with the right password`)
      const retryAfter = Number(locked.headers['retry-after'])
      // Whole seconds, rounded up: at most the 60 s window plus the second it started in.
      t.ok(retryAfter > 0 && retryAfter <= 61, `${name}: Retry-After within the window (${String(locked.headers['retry-after'])})`)
      t.notOk(locked.headers['set-cookie'], `${name}: no session cookie`)
    }
    // The lock is per username: another user on the same interaction still signs in.
    const alice = await login(b, 'alice', 'wonderland')
    t.equal(alice.statusCode, 303, 'another username is not locked')
  })
}
