/**
 * A TCP proxy between the provider and Redis that can hold traffic: while held, whatever the
 * provider sends is buffered (the connection stays open, nothing reaches Redis), and
 * `release()` delivers it in order. That is a Redis write stalled in the network, which then
 * runs after the client has already been answered 503.
 */
import { createServer, connect, type AddressInfo, type Socket } from 'node:net'
import type { Test } from 'tap'

export interface HoldingProxy {
  /** `redis://127.0.0.1:<port>` of the proxy. */
  url: string
  /** Buffers everything clients send from now on. */
  hold (): void
  /**
   * Forwards traffic until a chunk matches (e.g. names a key the held command writes), then
   * buffers that chunk and everything after it: only the command of interest and what follows
   * are held, not the reads before it.
   */
  holdFrom (match: (chunk: string) => boolean): void
  /** Forwards what was buffered, in order, and stops holding. */
  release (): void
  /** Bytes buffered while held (to know the held command was sent). */
  readonly heldBytes: number
}

/** Starts a proxy to `target` (host:port) on a free loopback port; closed at teardown. */
export async function startHoldingProxy (t: Test, target: { host: string, port: number }): Promise<HoldingProxy> {
  let holding = false
  let trigger: ((chunk: string) => boolean) | undefined
  let heldBytes = 0
  const pending: Array<{ upstream: Socket, data: Buffer }> = []
  const sockets = new Set<Socket>()

  const server = createServer((downstream) => {
    const upstream = connect(target.port, target.host)
    sockets.add(downstream)
    sockets.add(upstream)
    const closeBoth = (): void => { downstream.destroy(); upstream.destroy() }
    downstream.on('error', closeBoth)
    upstream.on('error', closeBoth)
    downstream.on('close', () => { sockets.delete(downstream); upstream.destroy() })
    upstream.on('close', () => { sockets.delete(upstream); downstream.destroy() })
    upstream.on('data', (data: Buffer) => downstream.write(data))
    downstream.on('data', (data: Buffer) => {
      if (!holding && trigger?.(data.toString('latin1')) === true) {
        holding = true
        trigger = undefined
      }
      if (holding) {
        heldBytes += data.length
        pending.push({ upstream, data })
      } else {
        upstream.write(data)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `redis://127.0.0.1:${port}`,
    hold: () => { holding = true },
    holdFrom: (match) => { trigger = match },
    release: () => {
      holding = false
      trigger = undefined
      for (const { upstream, data } of pending.splice(0)) upstream.write(data)
    },
    get heldBytes () { return heldBytes },
  }
}
