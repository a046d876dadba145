import type { Redis } from 'ioredis'
import type { Store } from '../../lib/index.js'

export type RedisStoreConstructor = new (options: { client: Redis, prefix: string }) => Store

/**
 * The Redis store, if this checkout exports one. Looked up at run time so the bench runs (and
 * says the Redis variants were skipped) on a checkout where the Redis store has not landed.
 */
export async function redisStoreClass (): Promise<RedisStoreConstructor | undefined> {
  const lib: Record<string, unknown> = await import('../../lib/index.js')
  return typeof lib.RedisStore === 'function' ? lib.RedisStore as RedisStoreConstructor : undefined
}
