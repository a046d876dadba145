/**
 * The example server (examples/server.ts, `buildExampleServer`) as the soak test's child process:
 * the same provider, demo users (scrypt), keys from KEYS_DIR and memory or Redis store (REDIS_URL)
 * as `npm start`, with short token lifetimes so that the records a flow leaves behind expire
 * within the warm-up and memory can reach a steady state in minutes (with the defaults, refresh
 * families live 90 days and every SSO flow would add one for the whole run).
 *
 * Answers the parent over IPC: `{ ready, port }` once listening, `{ memory }` on 'memory'.
 */
import { buildExampleServer } from '../examples/server.js'

/** Seconds: every record of the mix expires within two minutes. */
export const soakTtl = {
  code: 30,
  accessToken: 60,
  idToken: 60,
  refreshToken: 60,
  refreshTokenAbsolute: 120,
  session: 120,
  interaction: 120,
}

async function main (): Promise<void> {
  const port = Number(process.env.PORT)
  process.env.ISSUER ??= `http://127.0.0.1:${port}`
  const { app } = await buildExampleServer(process.env, { ttl: soakTtl })
  await app.listen({ port, host: '127.0.0.1' })
  process.on('message', (message) => {
    if (message === 'close') app.close().then(() => process.exit(0), () => process.exit(1))
    if (message === 'memory') process.send?.({ memory: process.memoryUsage(), cpu: process.cpuUsage() })
    if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() })
  })
  process.send?.({ ready: true, port })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
