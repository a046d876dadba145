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

/** node-oidc-provider started and warmed up once; each `ssoFlow` call is one measured round. */
export interface NodeOidcBaseline {
  ssoFlow: (settings: RunSettings) => Promise<ScenarioResult>
  close: () => Promise<void>
}

/**
 * Starts node-oidc-provider and warms it up as ours is (bench/lib/scenarios.ts warmUp: 4
 * browsers, 50 flows each). One process for every round, as our example server is one process
 * for every round: a fresh process per round would measure its JIT warm-up each time.
 */
export async function startNodeOidc (connections: number): Promise<NodeOidcBaseline> {
  const child = await startChild('oidc-provider-server.ts', {})
  const http = new HttpClient(child.origin, connections)
  const browserFor = (): BenchBrowser => new BenchBrowser(http, child.origin, 'demo', { client: oidcProviderClient, authorizePath: '/auth', silentStatus: 303 })
  const close = async (): Promise<void> => {
    http.close()
    await child.close()
  }
  try {
    await Promise.all([0, 1, 2, 3].map(async () => {
      const browser = browserFor()
      const first = await browser.signIn()
      await redeemCode(http, first.code, first.verifier, oidcProviderClient)
      for (let i = 0; i < 50; i++) {
        const { code, verifier } = await browser.silentAuthorize()
        await redeemCode(http, code, verifier, oidcProviderClient)
      }
    }))
  } catch (error) {
    await close()
    throw error
  }
  return {
    close,
    async ssoFlow (settings) {
      const loop = await closedLoop({
        concurrency: settings.connections,
        durationMs: settings.durationSec * 1000,
        warmupMs: 1000,
        serverCpuMs: child.cpuMs,
        setup: async () => {
          const browser = browserFor()
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
    },
  }
}
