/**
 * BENCH-ONLY baseline server: a bare Fastify with `GET /` answering a small JSON, the framework's
 * floor that userinfo, introspection, discovery and JWKS are compared with. Run as a child
 * process of bench/run.ts (the load generator never shares its event loop), logger at
 * LOG_LEVEL (default `warn`, as the example server runs in the bench).
 *
 * Tells the parent it is listening with an IPC message `{ ready: true, port }`.
 */
import Fastify from 'fastify'

async function main (): Promise<void> {
  const port = Number(process.env.PORT)
  if (!Number.isInteger(port) || port <= 0) throw new Error('PORT must be set by the parent')
  const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'warn' } })
  app.get('/', async () => ({ hello: 'world' }))
  await app.listen({ port, host: '127.0.0.1' })
  process.on('message', (message) => {
    if (message === 'close') app.close().then(() => process.exit(0), () => process.exit(1))
    // CPU time of the whole process (every thread), for cpu-per-op.
    if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() })
  })
  process.send?.({ ready: true, port })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
