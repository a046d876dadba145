/**
 * `npm run soak`: mixed traffic against the example server for SOAK_MINUTES (default 10) on the
 * memory store, then on Redis, at about half the rate the same mix reaches when nothing holds
 * it back. Not part of the test suite (it runs for minutes and loads the machine).
 *
 * The mix, on a pool of simulated browsers of the two demo users (real scrypt logins): SSO code
 * flows, refreshes (a quarter of them sent three times at once: the grace window answers the
 * retries), introspection, userinfo, revocation of refresh tokens, RP-initiated logouts, and a
 * login whenever a browser has no session (after a logout, or when its session expired).
 *
 * Every 30 s it reports the server's RSS and heap, the error counts, and once a minute p50/p99 of
 * the requests. It fails on any 5xx, on RSS growth over 20 % after the warm-up (the lowest RSS
 * of the last two minutes against the lowest of the minute after the warm-up: see below), or on
 * a minute whose p99 is more than twice the first measured minute's.
 *
 * Environment: SOAK_MINUTES (default 10), SOAK_STORES (default memory,redis; postgres too),
 * SOAK_BROWSERS (default 12), REDIS_URL (default: a private redis-server, as the bench does),
 * DATABASE_URL (postgres: default postgres://postgres@127.0.0.1:5432/test, in a schema of the
 * run's own, dropped at the end).
 * Output: progress on stderr, one JSON line per store on stdout.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startChild, type ChildServer } from './lib/child.js'
import { BenchBrowser, redeemCode, type FlowClient, type TokenSet } from './lib/flows.js'
import { HttpClient, form, type HttpResponse } from './lib/http.js'
import { basicAuth } from './lib/config.js'
import { percentile, round } from './lib/stats.js'
import { benchRedis } from './lib/redis-server.js'
import { benchDatabaseUrl, benchPostgres } from './lib/postgres.js'

const minutes = Number(process.env.SOAK_MINUTES ?? 10)
const stores = (process.env.SOAK_STORES ?? 'memory,redis').split(',').filter((name) => name !== '')
const browserCount = Number(process.env.SOAK_BROWSERS ?? 12)
const sampleMs = 30_000
const durationMs = minutes * 60_000
/** Warm-up: long enough for every record the mix writes to have expired once (lifetimes <= 120 s). */
const warmupMs = Math.min(180_000, Math.max(sampleMs, Math.round(durationMs * 0.3 / sampleMs) * sampleMs))
const users = [{ username: 'demo', password: 'demo' }, { username: 'alice', password: 'wonderland' }]

function progress (message: string): void {
  process.stderr.write(`soak: ${message}\n`)
}

/** Every request's latency and status class, bucketed by minute of the run. */
class Recorder {
  started = performance.now()
  readonly byMinute: number[][] = []
  readonly status = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, network: 0 }
  readonly fiveHundreds: string[] = []
  readonly failures = new Map<string, number>()
  measuring = true

  /** Latencies count only while measuring; a 5xx counts always (the maximum-rate phase too). */
  record (latencyMs: number, status: number, what: string): void {
    if (this.measuring) {
      const minute = Math.floor((performance.now() - this.started) / 60_000)
      ;(this.byMinute[minute] ??= []).push(latencyMs)
    } else if (status < 500) return
    if (status === 0) this.status.network++
    else if (status >= 500) {
      this.status['5xx']++
      if (this.fiveHundreds.length < 20) this.fiveHundreds.push(`${status} ${what}`)
    } else this.status[`${Math.floor(status / 100)}xx` as '2xx' | '3xx' | '4xx']++
  }

  fail (operation: string, error: unknown): void {
    if (!this.measuring) return
    const key = `${operation}: ${(error instanceof Error ? error.message : String(error)).slice(0, 120)}`
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1)
  }
}

/** The bench's keep-alive client, timing every request into the recorder. */
class TimedHttp extends HttpClient {
  constructor (origin: string, sockets: number, private readonly recorder: Recorder) { super(origin, sockets) }

  override async request (method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}, body?: string): Promise<HttpResponse> {
    const started = performance.now()
    try {
      const response = await super.request(method, path, headers, body)
      this.recorder.record(performance.now() - started, response.status, `${method} ${path.split('?')[0]!}`)
      return response
    } catch (error) {
      this.recorder.record(performance.now() - started, 0, `${method} ${path.split('?')[0]!}`)
      throw error
    }
  }
}

/** One simulated browser with its relying party's tokens. */
class Session {
  tokens: TokenSet | undefined
  busy = false
  constructor (readonly browser: BenchBrowser) {}
}

type Operation = 'sso' | 'refresh' | 'introspect' | 'userinfo' | 'revoke' | 'logout'
/** Relative weights of the mix (a login runs instead whenever the browser has no session). */
const weights: Array<[Operation, number]> = [['sso', 10], ['refresh', 8], ['introspect', 8], ['userinfo', 10], ['revoke', 2], ['logout', 1]]
const totalWeight = weights.reduce((sum, [, weight]) => sum + weight, 0)

function pick (): Operation {
  let roll = Math.random() * totalWeight
  for (const [operation, weight] of weights) {
    roll -= weight
    if (roll < 0) return operation
  }
  return 'sso'
}

class Mix {
  readonly counts = new Map<string, number>()
  constructor (
    private readonly http: TimedHttp,
    private readonly client: FlowClient,
    private readonly recorder: Recorder
  ) {}

  #count (name: string): void { this.counts.set(name, (this.counts.get(name) ?? 0) + 1) }

  async #codeFlow (session: Session): Promise<void> {
    let result: { code: string, verifier: string }
    try {
      result = await session.browser.silentAuthorize()
      this.#count('sso')
    } catch (error) {
      // The session ended (expired, logged out): the authorization request shows the login page.
      if (!(error instanceof Error) || !error.message.startsWith('expected 302 to the client, got 200')) throw error
      result = await session.browser.login()
      this.#count('login')
    }
    session.tokens = await redeemCode(this.http, result.code, result.verifier, this.client)
  }

  async #post (path: string, fields: Record<string, string>): Promise<HttpResponse> {
    const { body, headers } = form(fields)
    return await this.http.request('POST', path, { ...headers, authorization: basicAuth(this.client) }, body)
  }

  async run (session: Session, operation: Operation): Promise<void> {
    if (session.tokens === undefined || operation === 'sso') return await this.#codeFlow(session)
    const tokens = session.tokens
    switch (operation) {
      case 'refresh': {
        const fields = { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }
        // A quarter of the refreshes are sent three times at once (a client retrying): the first
        // rotates, the others are retries within the grace window (or a 400, never a 5xx).
        const copies = Math.random() < 0.25 ? 3 : 1
        const answers = await Promise.all(Array.from({ length: copies }, async () => await this.#post('/token', fields)))
        this.#count(copies === 1 ? 'refresh' : 'refresh-parallel')
        const fresh = answers.find((answer) => answer.status === 200)
        if (fresh === undefined) {
          // Expired family (lifetimes are short here): a new code flow.
          this.#count('refresh-expired')
          session.tokens = undefined
          return
        }
        const next = JSON.parse(fresh.body) as Partial<TokenSet>
        session.tokens = { ...tokens, access_token: next.access_token!, refresh_token: next.refresh_token ?? tokens.refresh_token }
        return
      }
      case 'introspect': {
        const answer = await this.#post('/introspect', { token: tokens.access_token, token_type_hint: 'access_token' })
        if (answer.status !== 200) throw new Error(`introspection answered ${answer.status}`)
        this.#count(answer.body.startsWith('{"active":true') ? 'introspect' : 'introspect-inactive')
        return
      }
      case 'userinfo': {
        const answer = await this.http.request('GET', '/userinfo', { authorization: `Bearer ${tokens.access_token}` })
        this.#count(answer.status === 200 ? 'userinfo' : `userinfo-${answer.status}`)
        if (answer.status === 401) session.tokens = undefined
        return
      }
      case 'revoke': {
        const answer = await this.#post('/revoke', { token: tokens.refresh_token, token_type_hint: 'refresh_token' })
        if (answer.status !== 200) throw new Error(`revocation answered ${answer.status}`)
        this.#count('revoke')
        session.tokens = undefined
        return
      }
      case 'logout': {
        const query = new URLSearchParams({
          id_token_hint: tokens.id_token,
          client_id: this.client.client_id,
          post_logout_redirect_uri: `${this.client.redirect_uri}?logged-out`,
        })
        const answer = await session.browser.get(`/logout?${query}`)
        if (answer.status !== 302 && answer.status !== 200) throw new Error(`logout answered ${answer.status}`)
        this.#count('logout')
        session.tokens = undefined
      }
    }
  }

  /** Runs one operation on an idle browser; false when every browser is busy (the rate is too high). */
  start (sessions: Session[], done: () => void): boolean {
    const idle = sessions.filter((session) => !session.busy)
    if (idle.length === 0) return false
    const session = idle[Math.floor(Math.random() * idle.length)]!
    const operation = pick()
    session.busy = true
    this.run(session, operation).catch((error: unknown) => {
      this.recorder.fail(operation, error)
      session.tokens = undefined
    }).finally(() => {
      session.busy = false
      done()
    })
    return true
  }
}

/** A confidential web client registered through RFC 7591 (the example has open registration). */
async function registerClient (http: HttpClient, origin: string): Promise<FlowClient> {
  const redirectUri = 'https://rp.soak.example/callback'
  const response = await http.request('POST', '/register', { 'content-type': 'application/json' }, JSON.stringify({
    client_name: 'Soak RP',
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [`${redirectUri}?logged-out`],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile email offline_access',
  }))
  if (response.status !== 201) throw new Error(`registration at ${origin} answered ${response.status}: ${response.body.slice(0, 200)}`)
  const client = JSON.parse(response.body) as { client_id: string, client_secret: string }
  return { client_id: client.client_id, client_secret: client.client_secret, redirect_uri: redirectUri, scope: 'openid profile email offline_access' }
}

interface MemorySample { atSec: number, rssMB: number, heapUsedMB: number, heapTotalMB: number, errors: Recorder['status'], ops: number }

async function memoryOf (child: ChildServer): Promise<NodeJS.MemoryUsage> {
  return await new Promise((resolve) => {
    const listener = (message: unknown): void => {
      const memory = (message as { memory?: NodeJS.MemoryUsage }).memory
      if (memory === undefined) return
      child.process.off('message', listener)
      resolve(memory)
    }
    child.process.on('message', listener)
    child.process.send('memory')
  })
}

const mb = (bytes: number): number => round(bytes / 1024 / 1024, 1)

async function soak (store: string): Promise<Record<string, unknown>> {
  const keysDir = await mkdtemp(join(tmpdir(), 'soak-keys-'))
  const redis = store === 'redis' ? await benchRedis() : undefined
  const env: Record<string, string> = {
    LOG_LEVEL: 'warn',
    KEYS_DIR: keysDir,
    SECRET_KEY: randomBytes(32).toString('base64url'),
    ...(redis === undefined ? {} : { REDIS_URL: redis.url }),
  }
  if (redis === undefined) env.REDIS_URL = ''
  // Issue 27: the example server on PostgreSQL (STORE=postgres migrates the run's schema at start).
  const postgres = store === 'postgres' ? await benchPostgres(`soak-${process.pid}-${Date.now().toString(36)}`) : undefined
  if (postgres !== undefined && !('schema' in postgres)) throw new Error(`soak on postgres: ${postgres.reason}`)
  if (postgres !== undefined) Object.assign(env, { STORE: 'postgres', DATABASE_URL: benchDatabaseUrl, DATABASE_SCHEMA: postgres.schema })
  const child = await startChild('soak-server.ts', env)
  const recorder = new Recorder()
  const http = new TimedHttp(child.origin, browserCount * 3, recorder)
  try {
    const discovery = JSON.parse((await http.request('GET', '/.well-known/openid-configuration')).body) as { issuer: string }
    const client = await registerClient(http, child.origin)
    const mix = new Mix(http, client, recorder)
    const sessions = Array.from({ length: browserCount }, (_, index) => {
      const user = users[index % users.length]!
      return new Session(new BenchBrowser(http, discovery.issuer, user.username, { client, password: user.password }))
    })

    // 1. The maximum: every browser signs in (not timed), then all run the mix back to back for
    // 30 s. Not counted in the soak's numbers, except that a 5xx counts always.
    recorder.measuring = false
    await Promise.all(sessions.map(async (session) => { await mix.run(session, 'sso') }))
    let completed = 0
    const maxUntil = performance.now() + 30_000
    await Promise.all(sessions.map(async (session) => {
      while (performance.now() < maxUntil) {
        await mix.run(session, pick()).catch(() => { session.tokens = undefined })
        completed++
      }
    }))
    const maxRate = completed / 30
    const rate = maxRate / 2
    progress(`${store}: maximum ${round(maxRate, 1)} ops/s with ${browserCount} browsers; soaking at ${round(rate, 1)} ops/s for ${minutes} min (warm-up ${warmupMs / 1000} s)`)

    // 2. The soak: an open loop at half that rate, each operation on an idle browser.
    recorder.measuring = true
    const samples: MemorySample[] = []
    const started = performance.now()
    recorder.byMinute.length = 0
    recorder.started = started
    let launched = 0
    let skipped = 0
    let running = 0
    const intervalMs = 1000 / rate
    let next = started
    let nextSample = started + sampleMs
    while (performance.now() < started + durationMs) {
      const now = performance.now()
      while (next <= now) {
        if (mix.start(sessions, () => { running-- })) { launched++; running++ } else skipped++
        next += intervalMs
      }
      if (now >= nextSample) {
        nextSample += sampleMs
        const memory = await memoryOf(child)
        const sample = { atSec: Math.round((now - started) / 1000), rssMB: mb(memory.rss), heapUsedMB: mb(memory.heapUsed), heapTotalMB: mb(memory.heapTotal), errors: { ...recorder.status }, ops: launched }
        samples.push(sample)
        const minute = recorder.byMinute[Math.floor((now - started) / 60_000) - 1]
        const latency = sample.atSec % 60 === 0 && minute !== undefined ? `, minute ${sample.atSec / 60}: p50 ${round(percentile([...minute].sort((a, b) => a - b), 50), 1)} ms p99 ${round(percentile([...minute].sort((a, b) => a - b), 99), 1)} ms` : ''
        progress(`${store} ${sample.atSec}s: rss ${sample.rssMB} MB heap ${sample.heapUsedMB}/${sample.heapTotalMB} MB, ${launched} ops, status ${JSON.stringify(recorder.status)}, failed ops ${[...recorder.failures.values()].reduce((a, b) => a + b, 0)}${latency}`)
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.min(50, next - performance.now()))))
    }
    const settled = (): boolean => running === 0
    while (!settled()) await new Promise((resolve) => setTimeout(resolve, 20))
    const end = await memoryOf(child)
    samples.push({ atSec: Math.round((performance.now() - started) / 1000), rssMB: mb(end.rss), heapUsedMB: mb(end.heapUsed), heapTotalMB: mb(end.heapTotal), errors: { ...recorder.status }, ops: launched })

    const perMinute = recorder.byMinute.map((latencies, minute) => {
      const sorted = [...latencies].sort((a, b) => a - b)
      return { minute: minute + 1, requests: sorted.length, p50: round(percentile(sorted, 50), 1), p99: round(percentile(sorted, 99), 1) }
    }).filter((entry) => entry.requests > 0)
    const warm = samples.find((sample) => sample.atSec * 1000 >= warmupMs) ?? samples[0]!
    const last = samples[samples.length - 1]!
    // RSS is compared floor to floor: the lowest sample of the minute after the warm-up against
    // the lowest of the last two minutes. A single sample says little here: each scrypt login
    // in flight holds 32 MiB (N=2^15, r=8) outside the JS heap, so RSS jumps by tens of MB
    // with the logins that happen to run when it is read; a leak raises the floor.
    const floor = (from: number, to: number): number => Math.min(...samples.filter((sample) => sample.atSec * 1000 >= from && sample.atSec * 1000 <= to).map((sample) => sample.rssMB), Infinity)
    const warmFloor = floor(warmupMs, warmupMs + 60_000)
    const endFloor = floor(durationMs - 120_000, durationMs + 60_000)
    const rssGrowth = Number.isFinite(warmFloor) && Number.isFinite(endFloor) ? round(endFloor / warmFloor, 3) : round(last.rssMB / warm.rssMB, 3)
    const firstMeasured = perMinute.find((entry) => entry.minute * 60_000 > warmupMs)
    const worstP99 = perMinute.filter((entry) => entry.minute * 60_000 > warmupMs).reduce((worst, entry) => Math.max(worst, entry.p99), 0)
    const p99Ratio = firstMeasured === undefined ? null : round(worstP99 / firstMeasured.p99, 2)
    const failedOps = [...recorder.failures.values()].reduce((sum, count) => sum + count, 0)
    const reasons: string[] = []
    if (recorder.status['5xx'] > 0) reasons.push(`${recorder.status['5xx']} responses were 5xx (${recorder.fiveHundreds.slice(0, 3).join('; ')})`)
    if (rssGrowth > 1.2) reasons.push(`RSS grew ${rssGrowth}x after the warm-up (floor ${warmFloor} -> ${endFloor} MB)`)
    if (p99Ratio !== null && p99Ratio > 2) reasons.push(`a minute's p99 was ${p99Ratio}x the first measured minute's`)
    return {
      scenario: 'soak',
      store,
      minutes,
      browsers: browserCount,
      maxOpsPerSec: round(maxRate, 1),
      targetOpsPerSec: round(rate, 1),
      achievedOpsPerSec: round(launched / (durationMs / 1000), 1),
      skippedBusy: skipped,
      operations: Object.fromEntries([...mix.counts].sort()),
      status: recorder.status,
      failedOperations: failedOps,
      failures: Object.fromEntries(recorder.failures),
      warmupSec: warmupMs / 1000,
      rssMB: { afterWarmup: warm.rssMB, end: last.rssMB, floorAfterWarmup: warmFloor, floorAtEnd: endFloor, peak: Math.max(...samples.map((sample) => sample.rssMB)) },
      heapUsedMB: { afterWarmup: warm.heapUsedMB, end: last.heapUsedMB, peak: Math.max(...samples.map((sample) => sample.heapUsedMB)) },
      rssGrowth,
      perMinute,
      p99WorstOverFirst: p99Ratio,
      samples,
      passed: reasons.length === 0,
      ...(reasons.length === 0 ? {} : { reasons }),
    }
  } finally {
    http.close()
    await child.close()
    await redis?.stop()
    if (postgres !== undefined && 'schema' in postgres) await postgres.drop()
    await rm(keysDir, { recursive: true, force: true })
  }
}

async function main (): Promise<void> {
  let failed = false
  for (const store of stores) {
    const result = await soak(store)
    process.stdout.write(`${JSON.stringify(result)}\n`)
    progress(`${store}: ${result.passed === true ? 'PASSED' : `FAILED: ${(result.reasons as string[]).join('; ')}`}`)
    if (result.passed !== true) failed = true
  }
  if (failed) process.exitCode = 1
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
