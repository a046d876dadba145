import t, { type Test } from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { decodeJwt } from 'jose'
import { MemoryStore, RedisStore, type StaticClient, type Store } from '../../lib/index.js'
import { buildApp } from '../helpers/app.js'
import { testUsers } from '../helpers/users.js'
import { CookieJar, runCodeFlow } from '../helpers/flow.js'
import { basic, postForm } from '../helpers/codes.js'
import { deleteKeys, requireRedis, testPrefix } from '../helpers/redis.js'

// Connected apps through the host API (`app.oidc.connectedApps`), on memory and on Redis: two
// clients sign one user in; the list shows both; revoking one ends its tokens and leaves the other's.

const REDIRECT = 'https://rp.example.com/cb'
const WEB = { client_id: 'web', client_secret: 'web-secret-0123456789abcdef' }
const OTHER = { client_id: 'other', client_secret: 'other-secret-0123456789abcdef' }

/** A Back-Channel Logout receiver recording each POSTed logout_token. */
async function startReceiver (t: Test): Promise<{ url: string, tokens: string[] }> {
  const state = { url: '', tokens: [] as string[] }
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      state.tokens.push(new URLSearchParams(body).get('logout_token') ?? '')
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bc`
  return state
}

function clients (backchannel: string): StaticClient[] {
  return [
    {
      ...WEB,
      client_name: 'Photo <Web>',
      logo_uri: 'https://rp.example.com/logo.png',
      redirect_uris: [REDIRECT],
      backchannel_logout_uri: backchannel,
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'openid profile email offline_access',
    },
    { ...OTHER, redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile email offline_access' },
  ]
}

async function signIn (app: FastifyInstance, jar: CookieJar, credentials: typeof WEB, scope: string, username = 'demo', password = 'demo'): Promise<Record<string, string>> {
  const flow = await runCodeFlow(app, { clientId: credentials.client_id, redirectUri: REDIRECT, scope, jar, username, password, extra: { prompt: 'consent' } })
  const res = await postForm(app, '/token', { grant_type: 'authorization_code', code: flow.code ?? '', redirect_uri: REDIRECT, code_verifier: flow.verifier },
    { authorization: basic(credentials.client_id, credentials.client_secret) })
  if (res.statusCode !== 200) throw new Error(`token: ${res.body}`)
  return res.json()
}

async function suite (t: Test, store: Store): Promise<void> {
  const receiver = await startReceiver(t)
  const app = await buildApp(t, { store, users: testUsers, clients: clients(receiver.url), outbound: { allowHttpLoopback: true, timeoutMs: 5000 } })
  const jar = new CookieJar()
  const web = await signIn(app, jar, WEB, 'openid profile offline_access')
  const other = await signIn(app, jar, OTHER, 'openid email')
  const alice = await signIn(app, new CookieJar(), OTHER, 'openid', 'alice', 'wonderland')
  const webAuth = { authorization: basic(WEB.client_id, WEB.client_secret) }
  const otherAuth = { authorization: basic(OTHER.client_id, OTHER.client_secret) }

  const { apps, next } = await app.oidc.connectedApps.list('demo')
  t.equal(next, undefined)
  t.same(apps.map((app) => app.clientId).sort(), ['other', 'web'], 'both clients, and not alice\'s')
  const webApp = apps.find((app) => app.clientId === 'web')
  t.match(webApp, { clientName: 'Photo <Web>', logoUri: 'https://rp.example.com/logo.png', scopes: ['openid', 'profile', 'offline_access'], offlineAccess: true })
  t.match(apps.find((app) => app.clientId === 'other'), { scopes: ['openid', 'email'], offlineAccess: false })
  const sid = decodeJwt(web.id_token ?? '').sid
  t.same(webApp?.sessions, [sid], 'the session it is tied to, by its public sid')
  t.notOk(JSON.stringify(apps).includes(jar.cookies.get('oidc_session') ?? 'no cookie'), 'never the session cookie value')
  t.same((await app.oidc.connectedApps.list('alice')).apps.map((app) => app.clientId), ['other'], 'alice sees only her own')
  t.equal((await app.oidc.connectedApps.list('nobody')).apps.length, 0)

  t.equal(await app.oidc.connectedApps.revoke('alice', 'web'), 0, 'another user cannot revoke demo\'s app')
  t.equal(await app.oidc.connectedApps.revoke('demo', 'web'), 1)
  t.same((await postForm(app, '/introspect', { token: web.access_token ?? '' }, webAuth)).json(), { active: false }, 'its access token is inactive')
  const refresh = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: web.refresh_token ?? '' }, webAuth)
  t.equal(refresh.json().error, 'invalid_grant', 'its refresh token is refused')
  t.equal((await postForm(app, '/introspect', { token: other.access_token ?? '' }, otherAuth)).json().active, true, 'the other client keeps working')
  t.equal((await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: other.refresh_token ?? '' }, otherAuth)).statusCode, 200)
  t.same((await app.oidc.connectedApps.list('demo')).apps.map((app) => app.clientId), ['other'])

  // The delivery is not awaited by revoke: wait for it (bounded).
  for (let tries = 0; receiver.tokens.length === 0 && tries < 250; tries++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(receiver.tokens.length, 1, 'the client was told by back-channel logout')
  t.match(decodeJwt(receiver.tokens[0] ?? ''), { sub: 'demo', aud: 'web', sid })

  t.equal(await app.oidc.connectedApps.revokeAll('demo'), 1)
  t.same((await app.oidc.connectedApps.list('demo')).apps, [])
  t.equal((await postForm(app, '/introspect', { token: alice.access_token ?? '' }, otherAuth)).json().active, true, 'alice is untouched')
}

t.test('memory', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  await suite(t, store)
})

t.test('redis', async (t) => {
  const client = await requireRedis(t)
  if (client === undefined) return
  const prefix = testPrefix()
  t.teardown(() => deleteKeys(client, prefix))
  await suite(t, new RedisStore({ client, prefix }))
})
