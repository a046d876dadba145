/**
 * A counting TCP relay between the example server and PostgreSQL: the example builds its own
 * pool (examples/postgres.ts), so the bench cannot wrap `client.query` there, and
 * pg_stat_statements needs `shared_preload_libraries` (not set on a default server). The relay
 * reads the frontend messages of the wire protocol (PostgreSQL docs, "Message Formats") and
 * counts the statements the provider runs: each simple Query ('Q') and each Execute ('E') of
 * the extended protocol (what node-postgres sends for a parameterized query), by statement. Bytes pass on
 * unchanged; the relay runs in the bench process, so its CPU is not counted as the server's.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'

export interface CountingRelay {
  /** DATABASE_URL for the example: the same database, through the relay. */
  url: string
  /** Statements sent through the relay so far. */
  statements: () => number
  /** The same by statement text (whitespace collapsed, cut at 90 characters). */
  byText: () => Map<string, number>
  close: () => Promise<void>
}

/** A NUL-terminated string at `offset`, and where the next field starts. */
function cstring (buffer: Buffer, offset: number): [string, number] {
  const end = buffer.indexOf(0, offset)
  return [buffer.toString('utf8', offset, end), end + 1]
}

const shortText = (sql: string): string => sql.replace(/\s+/g, ' ').trim().slice(0, 90)

/**
 * Counts 'Q' and 'E' messages in one connection's client→server stream, each under its
 * statement's text: a Query carries it; an Execute names a portal, bound ('B') to a statement
 * that a Parse ('P') named earlier on the same connection (node-postgres's unnamed ones too).
 */
class FrontendCounter {
  #startup = true
  #pending: Buffer = Buffer.alloc(0)
  readonly #parsed = new Map<string, string>()
  readonly #portals = new Map<string, string>()
  constructor (readonly count: (text: string) => void) {}

  push (chunk: Buffer): void {
    const buffer = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    let offset = 0
    for (;;) {
      if (this.#startup) {
        // The startup packet (and an SSLRequest) has no type byte: int32 length, then the body.
        if (buffer.length - offset < 4) break
        const length = buffer.readInt32BE(offset)
        if (buffer.length - offset < length) break
        const code = length >= 8 ? buffer.readInt32BE(offset + 4) : 0
        offset += length
        // SSLRequest / GSSENCRequest (80877103 / 80877104) come before the real startup packet.
        if (code !== 80877103 && code !== 80877104) this.#startup = false
        continue
      }
      if (buffer.length - offset < 5) break
      const type = buffer[offset]
      const length = buffer.readInt32BE(offset + 1)
      if (buffer.length - offset < 1 + length) break
      const body = offset + 5
      if (type === 0x51 /* Q */) {
        this.count(shortText(cstring(buffer, body)[0]))
      } else if (type === 0x50 /* P */) {
        const [name, next] = cstring(buffer, body)
        this.#parsed.set(name, shortText(cstring(buffer, next)[0]))
      } else if (type === 0x42 /* B */) {
        const [portal, next] = cstring(buffer, body)
        this.#portals.set(portal, cstring(buffer, next)[0])
      } else if (type === 0x45 /* E */) {
        const statement = this.#portals.get(cstring(buffer, body)[0])
        this.count(statement === undefined ? '(unknown)' : this.#parsed.get(statement) ?? '(unknown)')
      }
      offset += 1 + length
    }
    this.#pending = buffer.subarray(offset)
  }
}

/** Starts the relay on a free loopback port in front of the server of `databaseUrl`. */
export async function countingRelay (databaseUrl: string): Promise<CountingRelay> {
  const target = new URL(databaseUrl)
  const host = target.hostname === '' ? '127.0.0.1' : target.hostname
  const port = Number(target.port === '' ? 5432 : target.port)
  let statements = 0
  const byText = new Map<string, number>()
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(port, host)
    sockets.add(client)
    sockets.add(upstream)
    const counter = new FrontendCounter((text) => {
      statements++
      byText.set(text, (byText.get(text) ?? 0) + 1)
    })
    client.on('data', (chunk: Buffer) => {
      counter.push(chunk)
      if (!upstream.write(chunk)) client.pause()
    })
    upstream.on('drain', () => client.resume())
    upstream.pipe(client)
    const end = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const relayed = new URL(databaseUrl)
  relayed.hostname = '127.0.0.1'
  relayed.port = String(typeof address === 'object' && address !== null ? address.port : 0)
  return {
    url: relayed.href,
    statements: () => statements,
    byText: () => new Map(byText),
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
