import { routes } from '../../lib/contracts/urls.js'
import { cannon } from './cannon.js'
import { BenchBrowser, redeemCode, type FlowClient, type TokenSet } from './flows.js'
import { HttpClient, form } from './http.js'
import { basicAuth } from './config.js'
import { closedLoop, round, type CpuReader, type LoopResult, type ScenarioResult } from './stats.js'
import { registerServiceClient, registerWebClient } from './register.js'

export type StoreName = 'memory' | 'redis' | 'postgres'

/** The example's demo users (examples/server.ts): real scrypt password checks. */
export const demoUsers = [
  { username: 'demo', password: 'demo' },
  { username: 'alice', password: 'wonderland' },
] as const

/**
 * A provider under test: its store, where the bench connects, its issuer, a reader of the
 * server side's CPU time, and the clients registered on it.
 */
export interface Target {
  store: StoreName
  origin: string
  issuer: string
  cpuMs: CpuReader
  /** The confidential web app (authorization_code + refresh_token, `openid profile email`). */
  web: FlowClient
  /** The confidential service (client_credentials). */
  service: { client_id: string, client_secret: string }
  /** Set when the server signs everything with one algorithm other than RS256 (the algorithms group). */
  alg?: string
}

export interface RunSettings {
  durationSec: number
  connections: number
}

/** Registers the web app and the service on a started example server (RFC 7591, as adopters do), then warms it up. */
export async function prepareTarget (
  server: { origin: string, issuer: string },
  store: StoreName,
  cpuMs: CpuReader,
  options: { alg?: string } = {}
): Promise<Target> {
  const http = new HttpClient(server.origin, 1)
  try {
    // With one algorithm for the bench (ACCESS_TOKEN_ALG), the ID token is asked in it too (OIDC Registration §2).
    const web = await registerWebClient(http, options.alg === undefined ? {} : { id_token_signed_response_alg: options.alg })
    const service = await registerServiceClient(http)
    const target: Target = { store, origin: server.origin, issuer: server.issuer, cpuMs, web, service, ...(options.alg === undefined ? {} : { alg: options.alg }) }
    await warmUp(target)
    return target
  } finally {
    http.close()
  }
}

/** A browser of one of the demo users, signing into the target's web app. */
function browserOf (http: HttpClient, target: Target, index: number): BenchBrowser {
  const user = demoUsers[index % demoUsers.length]!
  return new BenchBrowser(http, target.issuer, user.username, { client: target.web, password: user.password })
}

/** Discovery and JWKS do not touch the store, so they run once (against the memory variant). */
export async function staticDocumentScenarios ({ origin, issuer, cpuMs }: Target, settings: RunSettings): Promise<ScenarioResult[]> {
  const http = new HttpClient(origin, 1)
  const discovery = await http.request('GET', routes.discovery)
  const jwks = await http.request('GET', routes.jwks)
  http.close()
  if (discovery.status !== 200 || (JSON.parse(discovery.body) as { issuer?: string }).issuer !== issuer) {
    throw new Error(`discovery is broken: ${discovery.status} ${discovery.body.slice(0, 200)}`)
  }
  if (jwks.status !== 200 || ((JSON.parse(jwks.body) as { keys?: unknown[] }).keys?.length ?? 0) === 0) throw new Error('JWKS is broken')
  const common = { connections: settings.connections, durationSec: settings.durationSec, serverCpuMs: cpuMs }
  return [
    await cannon({ ...common, scenario: 'discovery', url: origin + routes.discovery, verifyBody: (body) => body === discovery.body }),
    await cannon({ ...common, scenario: 'jwks', url: origin + routes.jwks, verifyBody: (body) => body === jwks.body }),
  ]
}

const tokenForm = form({ grant_type: 'client_credentials' })

function common ({ store, cpuMs }: Target, settings: RunSettings): { store: StoreName, connections: number, durationSec: number, serverCpuMs: CpuReader } {
  return { store, connections: settings.connections, durationSec: settings.durationSec, serverCpuMs: cpuMs }
}

/** client_credentials at the token endpoint, by the registered service: one signature per request. */
export async function clientCredentialsScenario (target: Target, settings: RunSettings): Promise<ScenarioResult> {
  const result = await cannon({
    ...common(target, settings),
    scenario: target.alg === undefined ? 'client_credentials' : `client_credentials-${target.alg}`,
    url: target.origin + routes.token,
    method: 'POST',
    headers: { ...tokenForm.headers, authorization: basicAuth(target.service) },
    body: tokenForm.body,
    // A real token response, not an error that happens to be JSON.
    verifyBody: (body) => body.startsWith('{"access_token":"ey') && body.includes('"token_type":"Bearer"'),
  })
  return { ...result, signaturesPerOp: 1, ...(target.alg === undefined ? {} : { alg: target.alg }) }
}

/** Introspection (RFC 7662) of a live client_credentials token by the client it was issued to. */
export async function introspectionScenario (target: Target, settings: RunSettings): Promise<ScenarioResult> {
  const serviceToken = await serviceAccessToken(target)
  const introspectForm = form({ token: serviceToken, token_type_hint: 'access_token' })
  return await cannon({
    ...common(target, settings),
    scenario: 'introspection',
    url: target.origin + routes.introspect,
    method: 'POST',
    headers: { ...introspectForm.headers, authorization: basicAuth(target.service) },
    body: introspectForm.body,
    verifyBody: (body) => body.startsWith('{"active":true'),
  })
}

async function serviceAccessToken (target: Target): Promise<string> {
  const http = new HttpClient(target.origin, 1)
  try {
    const issued = await http.request('POST', routes.token, { ...tokenForm.headers, authorization: basicAuth(target.service) }, tokenForm.body)
    if (issued.status !== 200) throw new Error(`client_credentials failed: ${issued.status} ${issued.body.slice(0, 200)}`)
    return (JSON.parse(issued.body) as { access_token: string }).access_token
  } finally {
    http.close()
  }
}

/** UserInfo (OIDC Core §5.3) with a demo user's access token (signature, deny-list and grant checked). */
export async function userinfoScenario (target: Target, settings: RunSettings): Promise<ScenarioResult> {
  const { access_token: userAccessToken } = await signedInUserTokens(target)
  return await cannon({
    ...common(target, settings),
    scenario: 'userinfo',
    url: target.origin + routes.userinfo,
    headers: { authorization: `Bearer ${userAccessToken}` },
    verifyBody: (body) => body.includes('"sub":"demo"'),
  })
}

/** A flow scenario's result line; `store` undefined for a baseline that has none (node-oidc-provider). */
export function flowResult (scenario: string, store: StoreName | undefined, concurrency: number, loop: LoopResult, extra: Record<string, unknown>): ScenarioResult {
  return {
    scenario,
    ...(store === undefined ? {} : { store }),
    flowsPerSec: round(loop.perSec),
    p50: round(loop.p50, 2),
    p99: round(loop.p99, 2),
    non2xx: loop.failed,
    errors: 0,
    total: loop.completed,
    durationSec: round(loop.durationSec, 2),
    concurrency,
    valid: loop.failed === 0 && loop.completed > 0,
    ...(loop.serverCpuMsPerOp === undefined ? {} : { serverCpuMsPerOp: loop.serverCpuMsPerOp }),
    ...(loop.serverCpuMsPerOpBy === undefined ? {} : { serverCpuMsPerOpBy: loop.serverCpuMsPerOpBy }),
    clientCpuMsPerOp: loop.clientCpuMsPerOp,
    ...extra,
    ...(loop.firstFailure === undefined ? {} : { firstFailure: loop.firstFailure }),
  }
}

/** Signs the demo user in (login, passkey offer declined, consent) and returns the web app's tokens. */
export async function signedInUserTokens (target: Target): Promise<TokenSet> {
  const http = new HttpClient(target.origin, 1)
  try {
    const { code, verifier } = await browserOf(http, target, 0).signIn()
    return await redeemCode(http, code, verifier, target.web)
  } finally {
    http.close()
  }
}

/**
 * SSO code flow: each simulated browser signs a demo user in once (setup, not timed); then
 * every flow is GET /authorize → 302 with a code → POST /token → 200 with access token,
 * ID token and refresh token (two signatures).
 */
export async function ssoFlowScenario (target: Target, settings: RunSettings): Promise<ScenarioResult> {
  const http = new HttpClient(target.origin, settings.connections)
  try {
    const loop = await closedLoop({
      concurrency: settings.connections,
      durationMs: settings.durationSec * 1000,
      warmupMs: 1000,
      serverCpuMs: target.cpuMs,
      setup: async (worker) => {
        const browser = browserOf(http, target, worker)
        const { code, verifier } = await browser.signIn()
        await redeemCode(http, code, verifier, target.web)
        return browser
      },
      iteration: async (browser) => {
        const { code, verifier } = await browser.silentAuthorize()
        await redeemCode(http, code, verifier, target.web)
      },
    })
    const scenario = target.alg === undefined ? 'sso-code-flow' : `sso-code-flow-${target.alg}`
    return flowResult(scenario, target.store, settings.connections, loop, { requestsPerFlow: 2, signaturesPerFlow: 2, ...(target.alg === undefined ? {} : { alg: target.alg }) })
  } finally {
    http.close()
  }
}

/**
 * Full login flow, a new browser every time, as a browser does it: GET /authorize (login page)
 * → POST credentials (a demo user: real scrypt) → the passkey offer, answered "Not now" →
 * (the consent page the first time a demo user meets the client; remembered after) → 303 with a
 * code → POST /token → 200.
 */
export async function loginFlowScenario (target: Target, settings: RunSettings): Promise<ScenarioResult> {
  const http = new HttpClient(target.origin, settings.connections)
  let counter = 0
  let requests = 0
  try {
    const loop = await closedLoop({
      concurrency: settings.connections,
      durationMs: settings.durationSec * 1000,
      warmupMs: 1000,
      serverCpuMs: target.cpuMs,
      setup: async () => undefined,
      iteration: async () => {
        const result = await browserOf(http, target, counter++).signIn()
        if (!result.pages.includes('passkey-offer')) throw new Error(`no passkey offer after the password sign-in (pages: ${result.pages.join(', ')})`)
        requests += result.requests + 1
        await redeemCode(http, result.code, result.verifier, target.web)
      },
    })
    return flowResult('login-flow', target.store, settings.connections, loop, {
      requestsPerFlow: counter === 0 ? 0 : round(requests / counter, 2),
      signaturesPerFlow: 2,
      note: 'demo users of the example (scrypt N=2^15 per sign-in); passkey offer declined; consent remembered after the first flow',
    })
  } finally {
    http.close()
  }
}

/**
 * Refresh (RFC 6749 §6) with rotation: each worker holds the web app's refresh token of a
 * signed-in demo user and redeems it back to back, keeping the new one each time.
 */
export async function refreshScenario (target: Target, settings: RunSettings): Promise<ScenarioResult> {
  const http = new HttpClient(target.origin, settings.connections)
  try {
    const loop = await closedLoop({
      concurrency: settings.connections,
      durationMs: settings.durationSec * 1000,
      warmupMs: 1000,
      serverCpuMs: target.cpuMs,
      setup: async (worker) => {
        const { code, verifier } = await browserOf(http, target, worker).signIn()
        return { tokens: await redeemCode(http, code, verifier, target.web) }
      },
      iteration: async (state) => { state.tokens = await refresh(http, target.web, state.tokens.refresh_token) },
    })
    return flowResult('refresh', target.store, settings.connections, loop, { requestsPerFlow: 1, signaturesPerFlow: 2 })
  } finally {
    http.close()
  }
}

/** One refresh_token grant; throws unless the answer has new tokens. */
export async function refresh (http: HttpClient, client: FlowClient, refreshToken: string): Promise<TokenSet> {
  const { body, headers } = form({ grant_type: 'refresh_token', refresh_token: refreshToken })
  const response = await http.request('POST', routes.token, { ...headers, authorization: basicAuth(client) }, body)
  if (response.status !== 200) throw new Error(`refresh answered ${response.status}: ${response.body.slice(0, 200)}`)
  const tokens = JSON.parse(response.body) as Partial<TokenSet>
  if (typeof tokens.access_token !== 'string' || typeof tokens.refresh_token !== 'string') throw new Error(`refresh without tokens: ${response.body.slice(0, 200)}`)
  return tokens as TokenSet
}

/**
 * The operations whose store traffic is counted (sequentially, one client, nothing else on the
 * store meanwhile), each a function that runs one operation; `close` when done.
 */
export async function countedOperations (target: Target): Promise<{ operations: Record<string, () => Promise<void>>, close: () => void }> {
  const http = new HttpClient(target.origin, 1)
  const browser = browserOf(http, target, 0)
  const first = await browser.signIn()
  let tokens = await redeemCode(http, first.code, first.verifier, target.web)
  const serviceToken = await serviceAccessToken(target)
  const expect = async (method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: string): Promise<void> => {
    const response = await http.request(method, path, headers, body)
    if (response.status !== 200) throw new Error(`${path} answered ${response.status}: ${response.body.slice(0, 200)}`)
  }
  const cc = form({ grant_type: 'client_credentials' })
  const introspect = form({ token: serviceToken, token_type_hint: 'access_token' })
  let logins = 0
  const operations: Record<string, () => Promise<void>> = {
    'sso-code-flow': async () => {
      const { code, verifier } = await browser.silentAuthorize()
      tokens = await redeemCode(http, code, verifier, target.web)
    },
    refresh: async () => { tokens = await refresh(http, target.web, tokens.refresh_token) },
    client_credentials: async () => { await expect('POST', routes.token, { ...cc.headers, authorization: basicAuth(target.service) }, cc.body) },
    introspection: async () => { await expect('POST', routes.introspect, { ...introspect.headers, authorization: basicAuth(target.service) }, introspect.body) },
    userinfo: async () => { await expect('GET', routes.userinfo, { authorization: `Bearer ${tokens.access_token}` }) },
    // A new browser each time (login page, credentials, passkey offer declined, code, token).
    'login-flow': async () => {
      const result = await browserOf(http, target, logins++).signIn()
      await redeemCode(http, result.code, result.verifier, target.web)
    },
  }
  return { operations, close: () => { http.close() } }
}

/**
 * Warms a freshly started server up (not measured): SSO flows, refreshes and client_credentials
 * from 4 browsers, so the first measured scenario does not pay for the JIT compiling the hot
 * paths, the store's pool growing, or Redis loading its scripts.
 */
export async function warmUp (target: Target, flowsPerBrowser = 50): Promise<void> {
  const http = new HttpClient(target.origin, 4)
  try {
    await Promise.all([0, 1, 2, 3].map(async (worker) => {
      const browser = browserOf(http, target, worker)
      const first = await browser.signIn()
      let tokens = await redeemCode(http, first.code, first.verifier, target.web)
      for (let i = 0; i < flowsPerBrowser; i++) {
        const { code, verifier } = await browser.silentAuthorize()
        tokens = await redeemCode(http, code, verifier, target.web)
        tokens = await refresh(http, target.web, tokens.refresh_token)
        const issued = await http.request('POST', routes.token, { ...tokenForm.headers, authorization: basicAuth(target.service) }, tokenForm.body)
        if (issued.status !== 200) throw new Error(`client_credentials failed: ${issued.status} ${issued.body.slice(0, 200)}`)
      }
    }))
  } finally {
    http.close()
  }
}
