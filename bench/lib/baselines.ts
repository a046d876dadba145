import { generateKeyPair, SignJWT } from 'jose'
import { staticUsers } from '../../lib/index.js'
import { closedLoop, round, type ScenarioResult } from './stats.js'

function fromLoop (scenario: string, concurrency: number, loop: Awaited<ReturnType<typeof closedLoop>>, note?: string): ScenarioResult {
  return {
    scenario,
    opsPerSec: round(loop.perSec),
    p50: round(loop.p50, 2),
    p99: round(loop.p99, 2),
    non2xx: loop.failed,
    errors: 0,
    total: loop.completed,
    durationSec: round(loop.durationSec, 2),
    concurrency,
    /** CPU of this process per operation, every thread (the thread pool that signs included). */
    cpuMsPerOp: loop.clientCpuMsPerOp,
    valid: loop.failed === 0 && loop.completed > 0,
    ...(note === undefined ? {} : { note }),
    ...(loop.firstFailure === undefined ? {} : { firstFailure: loop.firstFailure }),
  }
}

/**
 * The cryptographic floor: one jose signature of an access-token-sized payload with the key type
 * the provider signs with (RS256: RSA 2048, our default signer; ES256: P-256; EdDSA: Ed25519),
 * one at a time or with `concurrency` in flight (WebCrypto signs in the libuv thread pool; this
 * process's CPU, every thread, per signature).
 */
export async function joseSignatures (concurrency: number, durationMs: number, alg: 'RS256' | 'ES256' | 'EdDSA' = 'RS256'): Promise<ScenarioResult> {
  const { privateKey } = await generateKeyPair(alg, alg === 'RS256' ? { modulusLength: 2048 } : {})
  const sign = async (): Promise<void> => {
    const iat = Math.floor(Date.now() / 1000)
    const jwt = await new SignJWT({ client_id: 'bench-service', scope: 'api:read api:write', jti: crypto.randomUUID() })
      .setProtectedHeader({ alg, typ: 'at+jwt', kid: 'bench' })
      .setIssuer('http://127.0.0.1').setSubject('bench-service').setAudience('http://127.0.0.1')
      .setIssuedAt(iat).setExpirationTime(iat + 3600)
      .sign(privateKey)
    if (jwt.split('.').length !== 3) throw new Error('not a compact JWS')
  }
  const loop = await closedLoop({ concurrency, durationMs, warmupMs: 500, setup: async () => undefined, iteration: sign })
  return { ...fromLoop(`jose-${alg.toLowerCase()}-${concurrency === 1 ? 'sequential' : 'concurrent'}`, concurrency, loop), alg }
}

/**
 * The password-hash cost the login-flow benchmark leaves out: real `staticUsers` checks with
 * the default scrypt cost (N=2^15, r=8, p=1), as many in flight as the thread pool runs.
 */
export async function scryptVerify (concurrency: number, durationMs: number): Promise<ScenarioResult> {
  const users = staticUsers([{ username: 'demo', password: 'correct horse battery staple', sub: 'demo' }])
  const check = async (): Promise<void> => {
    if (await users.authenticate('demo', 'correct horse battery staple') !== 'demo') throw new Error('the right password was refused')
  }
  await check()
  const loop = await closedLoop({ concurrency, durationMs, warmupMs: 300, setup: async () => undefined, iteration: check })
  return fromLoop('scrypt-verify', concurrency, loop, 'staticUsers.authenticate with the default scrypt cost (N=32768, r=8, p=1)')
}
