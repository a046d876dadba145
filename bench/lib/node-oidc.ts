/**
 * BASELINE: node-oidc-provider's SSO flow (bench/oidc-provider-server.ts), driven exactly as
 * ours: each browser signs in once (not timed), then GET /auth → 303 with a code → POST /token
 * → access token (opaque), ID token (its one RS256 signature) and refresh token.
 */
import { startChild } from './child.js'
import { BenchBrowser, redeemCode } from './flows.js'
import { HttpClient } from './http.js'
import { oidcProviderClient } from './register.js'
import { closedLoop, type ScenarioResult } from './stats.js'
import { flowResult, type RunSettings } from './scenarios.js'

export async function nodeOidcSsoScenario (settings: RunSettings): Promise<ScenarioResult> {
  const child = await startChild('oidc-provider-server.ts', {})
  const http = new HttpClient(child.origin, settings.connections)
  try {
    // The same warm-up as ours (bench/lib/scenarios.ts warmUp): 4 browsers, 50 flows each.
    await Promise.all([0, 1, 2, 3].map(async () => {
      const browser = new BenchBrowser(http, child.origin, 'demo', { client: oidcProviderClient, authorizePath: '/auth', silentStatus: 303 })
      const first = await browser.signIn()
      await redeemCode(http, first.code, first.verifier, oidcProviderClient)
      for (let i = 0; i < 50; i++) {
        const { code, verifier } = await browser.silentAuthorize()
        await redeemCode(http, code, verifier, oidcProviderClient)
      }
    }))
    const loop = await closedLoop({
      concurrency: settings.connections,
      durationMs: settings.durationSec * 1000,
      warmupMs: 1000,
      serverCpuMs: child.cpuMs,
      setup: async () => {
        const browser = new BenchBrowser(http, child.origin, 'demo', { client: oidcProviderClient, authorizePath: '/auth', silentStatus: 303 })
        const { code, verifier } = await browser.signIn()
        await redeemCode(http, code, verifier, oidcProviderClient)
        return browser
      },
      iteration: async (browser) => {
        const { code, verifier } = await browser.silentAuthorize()
        await redeemCode(http, code, verifier, oidcProviderClient)
      },
    })
    return flowResult('node-oidc-provider-sso-code-flow', undefined, settings.connections, loop, {
      baseline: true,
      signaturesPerFlow: 1,
      note: 'BASELINE: node-oidc-provider 9 (bench/oidc-provider-server.ts), in-memory adapter, opaque access tokens',
    })
  } finally {
    http.close()
    await child.close()
  }
}
