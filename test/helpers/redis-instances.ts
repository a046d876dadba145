/**
 * Provider instances over one Redis, for the cross-instance tests: each instance is its own
 * Fastify app with its own ioredis connection (as a separate process would have), and all of
 * them share the prefix, the cookie secret, the signing key and the issuer — what makes
 * several processes behind a load balancer one provider.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import Fastify from 'fastify'
import type { Redis } from 'ioredis'
import type { Test } from 'tap'
import { oidcProvider, RedisStore, type OidcProviderOptions } from '../../lib/index.js'
import { CookieJar, hiddenField, pkcePair } from './flow.js'
import { testKeys } from './keys.js'
import { connectRedis, deleteKeys, REDIS_URL, testPrefix } from './redis.js'
import { testUsers } from './users.js'

export const ISSUER = 'http://localhost:3000'
export const SECRET = 's'.repeat(32)
export const REDIRECT_URI = 'https://rp.example.com/cb'

export interface Instance {
  app: FastifyInstance
  /** Closes the app and quits its connection, like a process exiting; idempotent. */
  close (): Promise<void>
}

/**
 * Starts one provider instance on `prefix` of the Redis at `url`, over a connection of its own.
 * The caller registers `close` as a teardown (or calls it to simulate a process going away).
 * `makeStore` lets a test put a RedisStore subclass in between (to hold an operation back).
 */
export async function startInstance (
  url: string,
  prefix: string,
  options: Partial<OidcProviderOptions> = {},
  makeStore: (options: { client: Redis, prefix: string }) => RedisStore = (storeOptions) => new RedisStore(storeOptions)
): Promise<Instance> {
  const client = await connectRedis(url)
  if (typeof client === 'string') throw new Error(client)
  const app = Fastify({ logger: false })
  await app.register(oidcProvider, {
    issuer: ISSUER,
    keys: testKeys(),
    cookieSecret: SECRET,
    users: testUsers,
    registration: {},
    store: makeStore({ client, prefix }),
    ...options,
  })
  await app.ready()
  let closed = false
  return {
    app,
    close: async () => {
      if (closed) return
      closed = true
      await app.close()
      await quit(client)
    },
  }
}

/**
 * Instances A and B on a fresh prefix of REDIS_URL; at teardown both close and, with `admin`
 * (the test's requireRedis client), the prefix's keys are deleted.
 */
export async function twoInstances (
  t: Pick<Test, 'teardown'>,
  admin: Redis | undefined,
  options: Partial<OidcProviderOptions> = {}
): Promise<[FastifyInstance, FastifyInstance]> {
  const prefix = testPrefix()
  const a = await startInstance(REDIS_URL, prefix, options)
  const b = await startInstance(REDIS_URL, prefix, options)
  t.teardown(async () => {
    await a.close()
    await b.close()
    if (admin !== undefined) await deleteKeys(admin, prefix)
  })
  return [a.app, b.app]
}

async function quit (client: Redis): Promise<void> {
  await client.quit().catch(() => { client.disconnect() })
}

export interface RegisteredClient {
  client_id: string
  client_secret: string
  registration_access_token: string
  registration_client_uri: string
}

/** Registers a confidential web client (code + refresh) through POST /register (RFC 7591). */
export async function registerClient (app: FastifyInstance, metadata: Record<string, unknown> = {}): Promise<RegisteredClient> {
  const res = await app.inject({
    method: 'POST',
    url: '/register',
    payload: {
      client_name: 'cross-instance rp',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid profile email offline_access',
      ...metadata,
    },
  })
  if (res.statusCode !== 201) throw new Error(`registration failed: ${res.statusCode} ${res.body}`)
  return res.json<RegisteredClient>()
}

export function basicAuth (client: RegisteredClient): { authorization: string } {
  const encode = (value: string): string => encodeURIComponent(value).replaceAll('%20', '+')
  return { authorization: `Basic ${Buffer.from(`${encode(client.client_id)}:${encode(client.client_secret)}`).toString('base64')}` }
}

/** POSTs an urlencoded form (the token, introspection and revocation endpoints). */
export async function postForm (
  app: FastifyInstance,
  url: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {}
): Promise<LightMyRequestResponse> {
  return await app.inject({
    method: 'POST',
    url,
    payload: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  })
}

export interface SplitFlowResult {
  code: string
  verifier: string
  jar: CookieJar
  /** Which instance served each step: GET /authorize, login, consent, ... (indexes into `apps`). */
  steps: Array<{ app: number, what: 'authorize' | 'login' | 'consent' | 'follow' }>
}

/**
 * The browser side of the code flow, with every request sent to the next instance in turn (as a
 * round-robin load balancer would): the interaction, its CSRF token, the login session and the
 * grant must all live in the shared store for this to work.
 */
export async function splitCodeFlow (
  apps: FastifyInstance[],
  client: RegisteredClient,
  options: { jar?: CookieJar, username?: string, password?: string, first?: number, scope?: string } = {}
): Promise<SplitFlowResult> {
  const jar = options.jar ?? new CookieJar()
  const { verifier, challenge } = pkcePair()
  const steps: SplitFlowResult['steps'] = []
  let turn = options.first ?? 0
  const next = (what: SplitFlowResult['steps'][number]['what']): FastifyInstance => {
    const index = turn++ % apps.length
    steps.push({ app: index, what })
    return apps[index]!
  }
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    scope: options.scope ?? 'openid profile email offline_access',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'xyz',
  })
  let res = await next('authorize').inject({ url: `/authorize?${query}`, headers: { cookie: jar.header() } })
  jar.update(res)
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  for (let step = 0; step < 6; step++) {
    if (res.statusCode === 302 || res.statusCode === 303) {
      const location = new URL(res.headers.location as string, ISSUER)
      if (location.origin === ISSUER) {
        res = await next('follow').inject({ url: location.pathname + location.search, headers: { cookie: jar.header() } })
        jar.update(res)
        continue
      }
      const code = location.searchParams.get('code')
      if (code === null) throw new Error(`no code in the redirect: ${location.href}`)
      return { code, verifier, jar, steps }
    }
    if (res.statusCode !== 200) throw new Error(`unexpected ${res.statusCode}: ${res.body.slice(0, 300)}`)
    const fields = { interaction_id: hiddenField(res.body, 'interaction_id'), csrf_token: hiddenField(res.body, 'csrf_token') }
    const login = res.body.includes('name="password"')
    const payload = login
      ? { ...fields, username: options.username ?? 'demo', password: options.password ?? 'demo' }
      : { ...fields, decision: 'approve' }
    res = await next(login ? 'login' : 'consent').inject({
      method: 'POST',
      url: login ? '/authorize' : '/consent',
      payload: new URLSearchParams(payload).toString(),
      headers: { ...form, cookie: jar.header() },
    })
    jar.update(res)
  }
  throw new Error('the flow did not end in a redirect to the client')
}

/** Redeems a code at /token as the registered client. */
export async function redeem (app: FastifyInstance, client: RegisteredClient, flow: { code: string, verifier: string }): Promise<LightMyRequestResponse> {
  return await postForm(app, '/token', {
    grant_type: 'authorization_code',
    code: flow.code,
    redirect_uri: REDIRECT_URI,
    code_verifier: flow.verifier,
  }, basicAuth(client))
}

export async function refresh (app: FastifyInstance, client: RegisteredClient, refreshToken: string): Promise<LightMyRequestResponse> {
  return await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, basicAuth(client))
}

export async function userinfo (app: FastifyInstance, accessToken: string): Promise<LightMyRequestResponse> {
  return await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${accessToken}` } })
}

export async function introspect (app: FastifyInstance, client: RegisteredClient, token: string): Promise<Record<string, unknown>> {
  const res = await postForm(app, '/introspect', { token }, basicAuth(client))
  if (res.statusCode !== 200) throw new Error(`introspection failed: ${res.statusCode} ${res.body}`)
  return res.json<Record<string, unknown>>()
}

export interface TokenResponse {
  access_token: string
  id_token: string
  refresh_token: string
  token_type: string
  expires_in: number
}
