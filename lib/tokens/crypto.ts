import * as nodeCrypto from 'node:crypto'
import { createHash, randomBytes, randomFillSync, timingSafeEqual, type BinaryLike } from 'node:crypto'

/**
 * Random bytes are cut from a pool refilled 4 KiB at a time, as `crypto.randomUUID()` does:
 * every `randomBytes()` call crosses into OpenSSL and costs 10-20 µs on a VM, a slice of the
 * pool well under 1 µs, and a flow draws several values (code, jti, refresh token...). The
 * bytes are the same CSPRNG output; each is handed out once and zeroed in the pool after.
 */
const poolSize = 4096
let pool = Buffer.alloc(0)
let poolOffset = 0

function drawRandom (bytes: number, use: (pool: Buffer, start: number, end: number) => string | Buffer): string | Buffer {
  if (poolOffset + bytes > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(poolSize))
    poolOffset = 0
  }
  const start = poolOffset
  poolOffset += bytes
  const value = use(pool, start, poolOffset)
  pool.fill(0, start, poolOffset)
  return value
}

/** A random token of `bytes` bytes, base64url (32 bytes = 256 bits for tokens and secrets). */
export function randomToken (bytes = 32): string {
  if (bytes > poolSize / 4) return randomBytes(bytes).toString('base64url')
  return drawRandom(bytes, (source, start, end) => source.toString('base64url', start, end)) as string
}

/** `bytes` random bytes in a buffer of their own (IVs, salts), from the same pool. */
export function randomBuffer (bytes: number): Buffer {
  if (bytes > poolSize / 4) return randomBytes(bytes)
  return drawRandom(bytes, (source, start, end) => Buffer.from(source.subarray(start, end))) as Buffer
}

/**
 * One-shot hashing (`crypto.hash`, Node 20.12+): about ten times cheaper than
 * `createHash().update().digest()` for the short inputs hashed on every request (codes,
 * secrets, verifiers). Falls back to createHash on older Node 20 releases.
 */
const oneShot = (nodeCrypto as { hash?: (algorithm: string, data: BinaryLike, encoding: string) => string | Buffer }).hash

export function digest (algorithm: string, value: BinaryLike, encoding: 'base64url'): string
export function digest (algorithm: string, value: BinaryLike, encoding: 'buffer'): Buffer
export function digest (algorithm: string, value: BinaryLike, encoding: 'base64url' | 'buffer'): string | Buffer {
  if (oneShot !== undefined) return oneShot(algorithm, value, encoding)
  const hash = createHash(algorithm).update(value)
  return encoding === 'buffer' ? hash.digest() : hash.digest(encoding)
}

/** SHA-256, base64url: how codes, tokens and secrets are keyed in the store. */
export function sha256 (value: string): string {
  return digest('sha256', value, 'base64url')
}

/**
 * Compares two strings in constant time. Both sides are hashed first so the comparison takes
 * the same time whatever their lengths (timingSafeEqual needs equal-length inputs).
 */
export function safeEqual (a: string, b: string): boolean {
  return timingSafeEqual(digest('sha256', a, 'buffer'), digest('sha256', b, 'buffer'))
}

/**
 * Compares two digests (base64url hashes: a fixed length per algorithm, so their lengths say
 * nothing secret) in constant time. Equal lengths are compared directly: hashing both sides
 * again, as safeEqual must for strings of any length, would add two hashes for nothing.
 */
export function safeEqualDigests (a: string, b: string): boolean {
  if (a.length === b.length) {
    const left = Buffer.from(a, 'utf8')
    const right = Buffer.from(b, 'utf8')
    if (left.length === right.length) return timingSafeEqual(left, right)
  }
  return safeEqual(a, b)
}

/** Seconds since the epoch. */
export function nowSeconds (): number {
  return Math.floor(Date.now() / 1000)
}
