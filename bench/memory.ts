/**
 * Memory of the MemoryStore provider under 100k token issues, and after they expire. Run by
 * bench/run.ts as a child with --expose-gc; reports one object over IPC.
 *
 * The provider is built and warmed up through HTTP (app.inject: client_credentials and one full
 * login flow), then 100k code-flow issues are written DIRECTLY THROUGH THE STORE API, the same
 * calls and record shapes the code flow makes (grant, code consumed into a tombstone, refresh
 * token, used nonce: four records per issue), because 100k flows over HTTP would take minutes of
 * RSA signing and measure the signer, not the memory. Records live BENCH_MEMORY_TTL seconds
 * (default 10, longer than the issuing takes); then the store is swept and the GC run, and RSS is read again.
 */
import Fastify from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import { oidcProvider, generatedKeys, MemoryStore } from '../lib/index.js'
import { randomBytes } from 'node:crypto'
import { sha256 } from '../lib/tokens/crypto.js'
import { benchUsers } from './users.js'
import { basicAuth, serviceClient, supportedScopes } from './lib/config.js'

const issues = Number(process.env.BENCH_MEMORY_ISSUES ?? 100_000)
const ttl = Number(process.env.BENCH_MEMORY_TTL ?? 10)
const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024 * 10) / 10

/**
 * Random values like `randomToken` makes, cut from a large buffer: in this VM every small
 * randomBytes() call costs microseconds, which would make the 100k issues take longer than
 * their TTL. The values are the same size; only where their entropy comes from differs.
 */
let pool = Buffer.alloc(0)
let offset = 0
function randomToken (bytes: number): string {
  if (offset + bytes > pool.length) {
    pool = randomBytes(1 << 20)
    offset = 0
  }
  offset += bytes
  return pool.toString('base64url', offset - bytes, offset)
}

function collect (): void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  gc()
  gc()
}

async function main (): Promise<Record<string, unknown>> {
  const store = new MemoryStore({ sweepIntervalMs: 3_600_000 })
  const app = Fastify({ logger: { level: 'warn' } })
  await app.register(oidcProvider, {
    issuer: 'http://127.0.0.1:1',
    store,
    keys: generatedKeys(),
    users: benchUsers(),
    cookieSecret: 'bench-cookie-secret-0123456789abcdef',
    scopes: supportedScopes,
    clients: [{ client_id: serviceClient.client_id, client_secret: serviceClient.client_secret, grant_types: ['client_credentials'], response_types: [], scope: serviceClient.scope }],
  })
  await app.ready()
  // Warm-up through HTTP so the "start" RSS is a provider that has served requests.
  for (let i = 0; i < 200; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/token',
      headers: { authorization: basicAuth(serviceClient), 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=client_credentials',
    })
    if (res.statusCode !== 200) throw new Error(`warm-up token request failed: ${res.statusCode} ${res.body}`)
  }
  collect()
  await sleep(100)
  collect()
  const start = process.memoryUsage()
  const sizeAtStart = store.size

  let peakRss = start.rss
  const now = Math.floor(Date.now() / 1000)
  // Every record expires at the same second, unless issuing runs past it (a loaded machine):
  // then each later issue gets a few seconds of its own, so its code is still there to consume.
  let lastExpiry = now + ttl
  const began = performance.now()
  for (let i = 0; i < issues; i++) {
    const expiresAt = Math.max(lastExpiry, Math.floor(Date.now() / 1000) + 3)
    lastExpiry = expiresAt
    const grantId = randomToken(16)
    const accountId = `user-${i}`
    await store.saveGrant({ grantId, accountId, clientId: 'bench-web', scope: 'openid profile email offline_access', createdAt: now, expiresAt })
    const codeHash = sha256(randomToken(32))
    await store.saveCode(codeHash, {
      clientId: 'bench-web',
      grantId,
      accountId,
      redirectUri: 'https://rp.bench.example/callback',
      codeChallenge: sha256(randomToken(32)),
      codeChallengeMethod: 'S256',
      scope: 'openid profile email offline_access',
      nonce: randomToken(12),
      authTime: now,
      sessionId: randomToken(32),
      expiresAt,
    })
    if ((await store.consumeCode(codeHash)).status !== 'consumed') throw new Error(`code ${i} not consumed after ${Math.round(performance.now() - began)} ms`)
    await store.markUsed(`nonce:bench-web:${sha256(randomToken(12))}`, expiresAt)
    await store.saveRefreshToken(sha256(randomToken(32)), {
      clientId: 'bench-web',
      grantId,
      accountId,
      scope: 'openid profile email offline_access',
      authTime: now,
      sessionId: randomToken(32),
      issuedAt: now,
      expiresAt,
      familyExpiresAt: expiresAt,
    })
    if (i % 5000 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss)
  }
  const issueSec = (performance.now() - began) / 1000
  const peak = process.memoryUsage()
  peakRss = Math.max(peakRss, peak.rss)
  const sizeAtPeak = store.size

  // Past every expiresAt (whole seconds), then what the sweeper timer does, then the GC.
  await sleep((lastExpiry + 1) * 1000 - Date.now())
  store.sweep()
  collect()
  await sleep(200)
  collect()
  const after = process.memoryUsage()
  const sizeAfter = store.size
  await app.close()

  const withinTarget = after.rss <= start.rss * 1.2
  return {
    scenario: 'memory-100k',
    store: 'memory',
    issues,
    recordsPerIssue: 4,
    // storeRecordsPeak is 5 per issue: the grant also has its (account, client) index entry.
    via: 'store API (grant + consumed code + nonce + refresh token per issue), provider warmed up over HTTP',
    issuesPerSec: Math.round(issues / issueSec),
    rssStartMB: mb(start.rss),
    rssPeakMB: mb(peakRss),
    rssAfterExpiryMB: mb(after.rss),
    heapUsedStartMB: mb(start.heapUsed),
    heapUsedPeakMB: mb(peak.heapUsed),
    heapUsedAfterExpiryMB: mb(after.heapUsed),
    storeRecordsStart: sizeAtStart,
    storeRecordsPeak: sizeAtPeak,
    storeRecordsAfterExpiry: sizeAfter,
    rssAfterOverStart: Math.round(after.rss / start.rss * 1000) / 1000,
    non2xx: 0,
    valid: sizeAfter === sizeAtStart && sizeAtPeak >= sizeAtStart + issues * 4,
    withinTarget,
  }
}

/** Over IPC when run by bench/run.ts (exits once the message is out), else on stdout. */
function report (result: object): void {
  if (process.send === undefined) {
    console.log(JSON.stringify(result))
    process.exit(0)
  }
  process.send(result, () => process.exit(0))
}

main().then(report, (error: unknown) => {
  console.error(error)
  process.exit(1)
})
