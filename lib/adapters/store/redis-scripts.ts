/**
 * The Lua scripts of the Redis store. Each touches exactly ONE key, so each runs atomically on
 * a single Redis and on any Cluster node whatever slot the key hashes to. They are registered
 * once per client with `defineCommand` (ioredis then calls EVALSHA and falls back to EVAL).
 */

/**
 * Single-use records (codes, refresh tokens) are stored as one status byte — `a` active or
 * `c` consumed — followed by the record's JSON. Consuming flips the byte in place (SETRANGE keeps
 * the TTL), so the record stays as a tombstone until its `expiresAt` and a replay is told apart
 * from an unknown value. Returns the value as it was before: `a…` means this caller won.
 */
const consume = `
local value = redis.call('GET', KEYS[1])
if not value then return false end
if string.byte(value, 1) == 97 then
  redis.call('SETRANGE', KEYS[1], 0, 'c')
end
return value
`

/**
 * Adds a grant id to a per-account or per-client index set and lets the set live as long as its
 * longest-lived grant: NX sets a first expiry (GT alone never applies to a key without one),
 * GT only ever extends it. So every index has a TTL and expires with its grants.
 */
const indexAdd = `
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'NX') == 0 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'GT')
end
return 1
`

/**
 * Fixed-window counter: the first increment opens the window (EXPIRE NX), later ones never move
 * it. Returns the count and the window's end in epoch milliseconds.
 */
const counterIncrement = `
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
return { count, redis.call('PEXPIRETIME', KEYS[1]) }
`

/** Reads a counter and its window's end together. */
const counterRead = `
local count = redis.call('GET', KEYS[1])
if not count then return false end
return { tonumber(count), redis.call('PEXPIRETIME', KEYS[1]) }
`

/** Deletes the key only while it still holds ARGV[1] (a pair index may point to a newer grant). */
const deleteIfEquals = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`

/**
 * Session client list (back-channel logout). KEYS[1] the session, KEYS[2] its client set; both
 * carry the session id as hash tag, so they share a slot and the script runs on a Cluster too.
 * The set is created only while the session lives and expires with it.
 */
const sessionClientAdd = `
local at = redis.call('PEXPIRETIME', KEYS[1])
if at < 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIREAT', KEYS[2], at)
return 1
`

/** Takes the session and its client set together: one caller gets them, the others nil. */
const sessionTake = `
local value = redis.call('GET', KEYS[1])
if not value then return false end
local clients = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2])
return { value, clients }
`

/** The commands `defineCommand` adds; names are namespaced so they never shadow the host's. */
export const scripts = {
  oidcConsume: { numberOfKeys: 1, lua: consume },
  oidcIndexAdd: { numberOfKeys: 1, lua: indexAdd },
  oidcCounterIncrement: { numberOfKeys: 1, lua: counterIncrement },
  oidcCounterRead: { numberOfKeys: 1, lua: counterRead, readOnly: true },
  oidcDeleteIfEquals: { numberOfKeys: 1, lua: deleteIfEquals },
  oidcSessionClientAdd: { numberOfKeys: 2, lua: sessionClientAdd },
  oidcSessionTake: { numberOfKeys: 2, lua: sessionTake },
} as const

/** How the client looks once the scripts are defined (ioredis adds them at runtime). */
export interface ScriptCommands {
  oidcConsume (key: string): Promise<string | null>
  oidcIndexAdd (key: string, member: string, expiresAtMs: number): Promise<number>
  oidcCounterIncrement (key: string, windowSeconds: number): Promise<[number, number]>
  oidcCounterRead (key: string): Promise<[number, number] | null>
  oidcDeleteIfEquals (key: string, value: string): Promise<number>
  oidcSessionClientAdd (sessionKey: string, clientsKey: string, clientId: string): Promise<number>
  oidcSessionTake (sessionKey: string, clientsKey: string): Promise<[string, string[]] | null>
}

export type ScriptName = keyof typeof scripts
