/**
 * BASELINE: node-oidc-provider's SSO flow (bench/oidc-provider-server.ts), driven exactly as
 * ours: each browser signs in once (not timed), then GET /auth → 303 with a code → POST /token
 * → access token (opaque), ID token (its one RS256 signature) and refresh token.
 */
import { startChild } from './child.js'
import { BenchBrowser, redeemCode } from './flows.js'
import { HttpClient } from './http.js'
import { oidcProviderClient } from './register.js'
import { closedLoop, round, type ScenarioResult } from './stats.js'
import type { RunSettings } from './scenarios.js'

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
    return {
      scenario: 'node-oidc-provider-sso-code-flow',
      baseline: true,
      flowsPerSec: round(loop.perSec),
      p50: round(loop.p50, 2),
      p99: round(loop.p99, 2),
      non2xx: loop.failed,
      errors: 0,
      total: loop.completed,
      durationSec: round(loop.durationSec, 2),
      concurrency: settings.connections,
      valid: loop.failed === 0 && loop.completed > 0,
      ...(loop.serverCpuMsPerOp === undefined ? {} : { serverCpuMsPerOp: loop.serverCpuMsPerOp }),
      clientCpuMsPerOp: loop.clientCpuMsPerOp,
      signaturesPerFlow: 1,
      note: 'BASELINE: node-oidc-provider 9 (bench/oidc-provider-server.ts), in-memory adapter, opaque access tokens',
      ...(loop.firstFailure === undefined ? {} : { firstFailure: loop.firstFailure }),
    }
  } finally {
    http.close()
    await child.close()
  }
}
