import { routes } from '../../lib/urls.js'
import { cannon } from './cannon.js'
import { BenchBrowser, redeemCode } from './flows.js'
import { HttpClient, form } from './http.js'
import { basicAuth, serviceClient } from './config.js'
import { closedLoop, round, type LoopResult, type ScenarioResult } from './stats.js'

export type StoreName = 'memory' | 'redis'

export interface RunSettings {
  durationSec: number
  connections: number
}

/** Discovery and JWKS do not touch the store, so they run once (against the memory variant). */
export async function staticDocumentScenarios (origin: string, settings: RunSettings): Promise<ScenarioResult[]> {
  const http = new HttpClient(origin, 1)
  const discovery = await http.request('GET', routes.discovery)
  const jwks = await http.request('GET', routes.jwks)
  http.close()
  if (discovery.status !== 200 || (JSON.parse(discovery.body) as { issuer?: string }).issuer !== origin) {
    throw new Error(`discovery is broken: ${discovery.status} ${discovery.body.slice(0, 200)}`)
  }
  if (jwks.status !== 200 || (JSON.parse(jwks.body) as { keys?: unknown[] }).keys?.length !== 1) throw new Error('JWKS is broken')
  const common = { connections: settings.connections, durationSec: settings.durationSec }
  return [
    await cannon({ ...common, scenario: 'discovery', url: origin + routes.discovery, verifyBody: (body) => body === discovery.body }),
    await cannon({ ...common, scenario: 'jwks', url: origin + routes.jwks, verifyBody: (body) => body === jwks.body }),
  ]
}

/** client_credentials at the token endpoint, then introspection and userinfo of live tokens. */
export async function endpointScenarios (origin: string, store: StoreName, settings: RunSettings, userAccessToken: string): Promise<ScenarioResult[]> {
  const common = { connections: settings.connections, durationSec: settings.durationSec, store }
  const tokenForm = form({ grant_type: 'client_credentials', scope: 'api:read' })
  const clientCredentials = await cannon({
    ...common,
    scenario: 'client_credentials',
    url: origin + routes.token,
    method: 'POST',
    headers: { ...tokenForm.headers, authorization: basicAuth(serviceClient) },
    body: tokenForm.body,
    // A real token response, not an error that happens to be JSON.
    verifyBody: (body) => body.startsWith('{"access_token":"ey') && body.includes('"token_type":"Bearer"'),
  })

  const http = new HttpClient(origin, 1)
  const issued = await http.request('POST', routes.token, { ...tokenForm.headers, authorization: basicAuth(serviceClient) }, tokenForm.body)
  http.close()
  const serviceToken = (JSON.parse(issued.body) as { access_token: string }).access_token
  const introspectForm = form({ token: serviceToken, token_type_hint: 'access_token' })
  const introspection = await cannon({
    ...common,
    scenario: 'introspection',
    url: origin + routes.introspect,
    method: 'POST',
    headers: { ...introspectForm.headers, authorization: basicAuth(serviceClient) },
    body: introspectForm.body,
    verifyBody: (body) => body.startsWith('{"active":true'),
  })

  const userinfo = await cannon({
    ...common,
    scenario: 'userinfo',
    url: origin + routes.userinfo,
    headers: { authorization: `Bearer ${userAccessToken}` },
    verifyBody: (body) => body.includes('"sub":"user-'),
  })
  return [clientCredentials, introspection, userinfo]
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
export async function ssoFlowScenario (origin: string, store: StoreName, settings: RunSettings, runId: string): Promise<ScenarioResult> {
  const http = new HttpClient(origin, settings.connections)
  try {
    const loop = await closedLoop({
      concurrency: settings.connections,
      durationMs: settings.durationSec * 1000,
      warmupMs: 1000,
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
export async function loginFlowScenario (origin: string, store: StoreName, settings: RunSettings, runId: string): Promise<ScenarioResult> {
  const http = new HttpClient(origin, settings.connections)
  let counter = 0
  try {
    const loop = await closedLoop({
      concurrency: settings.connections,
      durationMs: settings.durationSec * 1000,
      warmupMs: 1000,
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
