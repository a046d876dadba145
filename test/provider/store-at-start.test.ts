import t from 'tap'
import Fastify from 'fastify'
import { Writable } from 'node:stream'
import { Redis } from 'ioredis'
import { oidcProvider, RedisStore } from '../../lib/index.js'
import { freePort } from '../helpers/server.js'
import { testKeys } from '../helpers/keys.js'

const noUsers = { authenticate: async () => null, claims: async () => null }

/** A logger stream keeping each JSON line. */
function captureLogs (): { lines: Array<{ level: number, msg: string }>, stream: Writable } {
  const lines: Array<{ level: number, msg: string }> = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line))
      done()
    },
  })
  return { lines, stream }
}

// Issue 26: Redis unreachable at start was silent until a user's 503.
t.test('a store unreachable at start: one clear warning, readiness says so, no stream of messages', async (t) => {
  const port = await freePort() // closed again at once: nothing listens there
  const redis = new Redis({ host: '127.0.0.1', port, retryStrategy: () => 50 })
  let clientErrors = 0
  redis.on('error', () => { clientErrors++ }) // the host's listener, as the examples attach
  t.teardown(() => { redis.disconnect() })
  const { lines, stream } = captureLogs()
  const app = Fastify({ logger: { level: 'warn', stream } })
  t.teardown(() => app.close())
  await app.register(oidcProvider, { issuer: 'http://localhost:3000', keys: testKeys(), cookieSecret: 'x'.repeat(32), store: new RedisStore({ client: redis, prefix: `t26a:${port}:` }), health: { timeoutMs: 300 }, users: noUsers })
  await app.ready()
  const warnings = () => lines.filter((line) => line.level === 40 && line.msg.includes('the store did not answer at start'))
  t.equal(warnings().length, 1, 'one warning once the app is ready')
  t.match(warnings()[0]?.msg, /^fastify-oidc-provider: the store did not answer at start \(the store did not answer its ping within \d+ ms\); every endpoint that needs it answers 503 temporarily_unavailable, and readiness reports store "unavailable", until it does$/)
  t.same(await app.oidc.health.ready(), { status: 'unavailable', store: 'unavailable' }, 'readiness reports it')
  // The client keeps retrying (every 50 ms): the provider adds nothing per retry.
  const retries = (): number => clientErrors
  while (retries() < 4) await new Promise((resolve) => setTimeout(resolve, 25))
  t.same(lines.map((line) => line.msg), [warnings()[0]?.msg], 'no other log line while the client retries')
})

t.test('a store that answers: no warning', async (t) => {
  const { lines, stream } = captureLogs()
  const app = Fastify({ logger: { level: 'warn', stream } })
  t.teardown(() => app.close())
  await app.register(oidcProvider, { issuer: 'http://localhost:3000', keys: testKeys(), cookieSecret: 'x'.repeat(32), users: noUsers })
  await app.ready()
  t.same(lines, [])
})
