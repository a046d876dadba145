import { routes } from '../../lib/contracts/urls.js'
import { cannon } from './cannon.js'
import { BenchBrowser, redeemCode } from './flows.js'
import { HttpClient, form } from './http.js'
import { basicAuth, serviceClient } from './config.js'
import { closedLoop, round, type LoopResult, type ScenarioResult } from './stats.js'
import { countCommands } from './redis-server.js'

export type StoreName = 'memory' | 'redis' | 'postgres'

/** A provider under test: its store, where it listens, and a reader of its CPU time. */
export interface Target {
  store: StoreName
  origin: string
  cpuMs: () => Promise<number>
}

export interface RunSettings {
  durationSec: number
  connections: number
}

/** Discovery and JWKS do not touch the store, so they run once (against the memory variant). */
export async function staticDocumentScenarios ({ origin, cpuMs }: Target, settings: RunSettings): Promise<ScenarioResult[]> {
  const http = new HttpClient(origin, 1)
  const discovery = await http.request('GET', routes.discovery)
  const jwks = await http.request('GET', routes.jwks)
  http.close()
  if (discovery.status !== 200 || (JSON.parse(discovery.body) as { issuer?: string }).issuer !== origin) {
    throw new Error(`discovery is broken: ${discovery.status} ${discovery.body.slice(0, 200)}`)
  }
  if (jwks.status !== 200 || (JSON.parse(jwks.body) as { keys?: unknown[] }).keys?.length !== 1) throw new Error('JWKS is broken')
  const common = { connections: settings.connections, durationSec: settings.durationSec, serverCpuMs: cpuMs }
  return [
    await cannon({ ...common, scenario: 'discovery', url: origin + routes.discovery, verifyBody: (body) => body === discovery.body }),
    await cannon({ ...common, scenario: 'jwks', url: origin + routes.jwks, verifyBody: (body) => body === jwks.body }),
  ]
}

const tokenForm = form({ grant_type: 'client_credentials', scope: 'api:read' })

function common ({ store, cpuMs }: Target, settings: RunSettings): { store: StoreName, connections: number, durationSec: number, serverCpuMs: () => Promise<number> } {
  return { store, connections: settings.connections, durationSec: settings.durationSec, serverCpuMs: cpuMs }
}

/** client_credentials at the token endpoint: one RS256 signature per request, no store access. */
export async function clientCredentialsScenario (target: Target, settings: RunSettings): Promise<ScenarioResult> {
  return await cannon({
    ...common(target, settings),
    scenario: 'client_credentials',
    url: target.origin + routes.token,
    method: 'POST',
    headers: { ...tokenForm.headers, authorization: basicAuth(serviceClient) },
    body: tokenForm.body,
    // A real token response, not an error that happens to be JSON.
    verifyBody: (body) => body.startsWith('{"access_token":"ey') && body.includes('"token_type":"Bearer"'),
  })
}

/**
 * client_credentials against a server whose only key is of `alg` (BENCH_ALG): the token rate
 * each signing algorithm allows, everything else equal.
 */
export async function clientCredentialsAlgScenario (target: Target, settings: RunSettings, alg: string): Promise<ScenarioResult> {
  const result = await clientCredentialsScenario(target, settings)
  return { ...result, scenario: `client_credentials-${alg}` }
}

/** Introspection (RFC 7662) of a live client_credentials token by the client it was issued to. */
export async function introspectionScenario (target: Target, settings: RunSettings): Promise<ScenarioResult> {
  const http = new HttpClient(target.origin, 1)
  const issued = await http.request('POST', routes.token, { ...tokenForm.headers, authorization: basicAuth(serviceClient) }, tokenForm.body)
  http.close()
  if (issued.status !== 200) throw new Error(`client_credentials failed: ${issued.status} ${issued.body.slice(0, 200)}`)
  const serviceToken = (JSON.parse(issued.body) as { access_token: string }).access_token
  const introspectForm = form({ token: serviceToken, token_type_hint: 'access_token' })
  return await cannon({
    ...common(target, settings),
    scenario: 'introspection',
    url: target.origin + routes.introspect,
    method: 'POST',
    headers: { ...introspectForm.headers, authorization: basicAuth(serviceClient) },
    body: introspectForm.body,
    verifyBody: (body) => body.startsWith('{"active":true'),
  })
}

/** UserInfo (OIDC Core §5.3) with a signed-in user's access token (signature, deny-list and grant checked). */
export async function userinfoScenario (target: Target, settings: RunSettings, runId: string): Promise<ScenarioResult> {
  const userAccessToken = await signedInUserToken(target.origin, `user-info-${runId}`)
  return await cannon({
    ...common(target, settings),
    scenario: 'userinfo',
    url: target.origin + routes.userinfo,
    headers: { authorization: `Bearer ${userAccessToken}` },
    verifyBody: (body) => body.includes('"sub":"user-'),
  })
}

function flowResult (scenario: string, store: StoreName, concurrency: number, loop: LoopResult, extra: Record<string, unknown>): ScenarioResult {
  return {
    scenario,
    store,
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
    clientCpuMsPerOp: loop.clientCpuMsPerOp,
    ...extra,
    ...(loop.firstFailure === undefined ? {} : { firstFailure: loop.firstFailure }),
  }
}

/** Signs a browser in (login + consent + token) and returns its tokens: the userinfo scenario needs a user's access token. */
export async function signedInUserToken (origin: string, username: string): Promise<string> {
  const http = new HttpClient(origin, 1)
  try {
    const browser = new BenchBrowser(http, origin, username)
    const { code, verifier } = await browser.loginAndConsent()
    return (await redeemCode(http, code, verifier)).access_token
  } finally {
    http.close()
  }
}

/**
 * SSO code flow: each simulated browser signs in and consents once (setup, not timed); then
 * every flow is GET /authorize → 302 with a code → POST /token → 200 with access token,
 * id_token and refresh token (two RS256 signatures).
 */
export async function ssoFlowScenario ({ origin, store, cpuMs }: Target, settings: RunSettings, runId: string): Promise<ScenarioResult> {
  const http = new HttpClient(origin, settings.connections)
  try {
    const loop = await closedLoop({
      concurrency: settings.connections,
      durationMs: settings.durationSec * 1000,
      warmupMs: 1000,
      serverCpuMs: cpuMs,
      setup: async (worker) => {
        const browser = new BenchBrowser(http, origin, `user-sso-${runId}-${worker}`)
        const { code, verifier } = await browser.loginAndConsent()
        await redeemCode(http, code, verifier)
        return browser
      },
      iteration: async (browser) => {
        const { code, verifier } = await browser.silentAuthorize()
        await redeemCode(http, code, verifier)
      },
    })
    return flowResult('sso-code-flow', store, settings.connections, loop, { requestsPerFlow: 2, signaturesPerFlow: 2 })
  } finally {
    http.close()
  }
}

/**
 * Full login flow, a new browser and a new user every time (so the consent page is always
 * shown): GET /authorize (login page) → POST /authorize (credentials, bench user adapter) →
 * 303 → GET /consent → POST /consent → 303 with a code → POST /token → 200.
 */
export async function loginFlowScenario ({ origin, store, cpuMs }: Target, settings: RunSettings, runId: string): Promise<ScenarioResult> {
  const http = new HttpClient(origin, settings.connections)
  let counter = 0
  try {
    const loop = await closedLoop({
      concurrency: settings.connections,
      durationMs: settings.durationSec * 1000,
      warmupMs: 1000,
      serverCpuMs: cpuMs,
      setup: async () => undefined,
      iteration: async (_state, worker) => {
        const browser = new BenchBrowser(http, origin, `user-login-${runId}-${worker}-${counter++}`)
        const { code, verifier } = await browser.loginAndConsent()
        await redeemCode(http, code, verifier)
      },
    })
    return flowResult('login-flow', store, settings.connections, loop, {
      requestsPerFlow: 5,
      signaturesPerFlow: 2,
      note: 'bench user adapter (SHA-256 password check, see bench/users.ts); scrypt cost is the scrypt-verify line',
    })
  } finally {
    http.close()
  }
}

/**
 * Redis commands per SSO flow (issue 19: at most 8): one signed-in browser runs `flows` SSO
 * flows one after the other while `countCommands` watches Redis (INFO commandstats and MONITOR).
 */
export async function ssoRedisCommands (
  { origin }: Target,
  runId: string,
  redis: { url: string, prefix: string },
  flows = 100
): Promise<Record<string, unknown>> {
  const http = new HttpClient(origin, 1)
  try {
    const browser = new BenchBrowser(http, origin, `user-count-${runId}`)
    const first = await browser.loginAndConsent()
    await redeemCode(http, first.code, first.verifier)
    // One flow first, so nothing that happens once per browser is counted.
    const warm = await browser.silentAuthorize()
    await redeemCode(http, warm.code, warm.verifier)
    const count = await countCommands(redis.url, redis.prefix, flows, async () => {
      const { code, verifier } = await browser.silentAuthorize()
      await redeemCode(http, code, verifier)
    })
    return { scenario: 'sso-redis-commands', store: 'redis', ...count, valid: count.sentPerOp > 0 }
  } finally {
    http.close()
  }
}

/**
 * Statements the provider sends to PostgreSQL per SSO flow (silent /authorize on a session, then
 * the code exchange), read from the server's own counter before and after `flows` flows.
 */
export async function ssoPostgresStatements (
  { origin }: Target,
  runId: string,
  sent: () => Promise<number>,
  flows = 100
): Promise<Record<string, unknown>> {
  const http = new HttpClient(origin, 1)
  try {
    const browser = new BenchBrowser(http, origin, `user-statements-${runId}`)
    const first = await browser.loginAndConsent()
    await redeemCode(http, first.code, first.verifier)
    const warm = await browser.silentAuthorize()
    await redeemCode(http, warm.code, warm.verifier)
    const before = await sent()
    for (let i = 0; i < flows; i++) {
      const { code, verifier } = await browser.silentAuthorize()
      await redeemCode(http, code, verifier)
    }
    const perFlow = (await sent() - before) / flows
    return { scenario: 'sso-postgres-statements', store: 'postgres', flows, statementsPerOp: perFlow, valid: perFlow > 0 }
  } finally {
    http.close()
  }
}

/** The SSO code flow against a server whose one key is of `alg` (BENCH_ALG). */
export async function ssoFlowAlgScenario (target: Target, settings: RunSettings, runId: string, alg: string): Promise<ScenarioResult> {
  const result = await ssoFlowScenario(target, settings, `${runId}-${alg}`)
  return { ...result, scenario: `sso-code-flow-${alg}`, alg }
}
