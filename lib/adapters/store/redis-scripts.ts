/**
 * The Lua scripts of the Redis store. Each touches ONE key, or several keys of one hash slot
 * (one grant's), so each runs atomically on a single Redis and on any Cluster node. They are registered
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
 * Issue 32: markUsed, then the code only when the mark is fresh (one command on a single
 * Redis). KEYS: the used mark, the code. ARGV: the mark's end and the code's (epoch ms), the
 * code's stored value. 1 when saved, 0 when the mark was already there.
 */
const saveCodeOnce = `
if not redis.call('SET', KEYS[1], '1', 'PXAT', ARGV[1], 'NX') then return 0 end
redis.call('SET', KEYS[2], ARGV[3], 'PXAT', ARGV[2])
return 1
`

/**
 * Issue 32: `consume` for a code, which also reads the code's grant in the same step on a
 * single Redis (one command per code exchange instead of two). ARGV[1]: the grant keys' head
 * (`<prefix>grant:`). Replies: false (unknown), { value } (a tombstone, or a grant id that
 * needs escaping: the caller reads the grant), { value, grant } (grant '' when gone).
 */
const consumeCode = `
local value = redis.call('GET', KEYS[1])
if not value then return false end
if string.byte(value, 1) ~= 97 then return { value } end
redis.call('SETRANGE', KEYS[1], 0, 'c')
local grantId = cjson.decode(string.sub(value, 2)).grantId
if type(grantId) ~= 'string' or string.find(grantId, '[%%{}:]') then return { value } end
return { value, redis.call('GET', ARGV[1] .. '{' .. grantId .. '}') or '' }
`

/**
 * Adds a member to an index set (a per-account or per-client grant index, a grant's or a
 * session's family index) and lets the set live as long as its longest-lived entry: its expiry
 * is set when it has none (PEXPIRETIME -1) or an earlier one, never moved earlier. So every index
 * has a TTL and expires with its entries. One write fewer than PEXPIREAT NX then GT when the
 * expiry stays (several entries in the same second).
 */
const indexAddFunction = `
local function indexAdd (key, member, at)
  redis.call('SADD', key, member)
  if redis.call('PEXPIRETIME', key) < tonumber(at) then redis.call('PEXPIREAT', key, at) end
end
`

const indexAdd = `${indexAddFunction}
indexAdd(KEYS[1], ARGV[1], ARGV[2])
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

/**
 * Reads several counters (KEYS, any number) with their windows' ends: one command where the
 * caller would send one per key. The keys hash to different slots, so only on a single Redis.
 */
const countersRead = `
local out = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('GET', key)
  if count then out[i] = { tonumber(count), redis.call('PEXPIRETIME', key) } else out[i] = false end
end
return out
`

/**
 * Issue 32: the client record KEYS[1] and the counters KEYS[2..] (as countersRead) in one
 * command, for client authentication. Different slots: a single Redis only.
 */
const clientWithCounters = `
local out = { redis.call('GET', KEYS[1]) or false }
for i = 2, #KEYS do
  local count = redis.call('GET', KEYS[i])
  if count then out[i] = { tonumber(count), redis.call('PEXPIRETIME', KEYS[i]) } else out[i] = false end
end
return out
`

/**
 * The (account, client) pointer KEYS[1], then the grant it names (ARGV[1] .. '{' .. id .. '}'),
 * in one step: {id, json}, {id} when the id needs escaping (the caller reads the grant itself),
 * or false. The grant key is not declared (it is only known from the pointer), which a single
 * Redis allows and a Cluster does not: there the store reads the two one after the other.
 */
const grantByPair = `
local id = redis.call('GET', KEYS[1])
if not id then return false end
if string.find(id, '[%%{}:]') then return { id } end
local json = redis.call('GET', ARGV[1] .. '{' .. id .. '}')
if not json then return false end
return { id, json }
`

/**
 * An access token's liveness in one command on a single Redis. KEYS: its jti's deny-list
 * entry, its grant, and (optional) its family. 1 while not denied, the grant exists and the
 * family (when given) is alive.
 */
const tokenAlive = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if KEYS[3] and redis.call('HGET', KEYS[3], 'state') ~= 'a' then return 0 end
return 1
`

/** A session and its client set (same hash tag, so one slot): {json, clients} or false. */
const sessionGet = `
local value = redis.call('GET', KEYS[1])
if not value then return false end
return { value, redis.call('SMEMBERS', KEYS[2]) }
`

/**
 * Issue 32: sessionGet, then the user's grant to the client ARGV[2] (as grantByPair; ARGV[1]
 * is the key prefix): { session, clients, grant } (grant '' when none), or { session, clients }
 * when an id needs escaping (the caller reads the grant itself), or false. Undeclared keys: a
 * single Redis only. Shared by the two scripts below (KEYS[1], KEYS[2]: session, its client set).
 */
const readSessionWithGrant = `
local function sessionWithGrant ()
  local value = redis.call('GET', KEYS[1])
  if not value then return false end
  local clients = redis.call('SMEMBERS', KEYS[2])
  local accountId = cjson.decode(value).accountId
  if type(accountId) ~= 'string' or string.find(accountId, '[%%{}:]') or string.find(ARGV[2], '[%%{}:]') then return { value, clients } end
  local id = redis.call('GET', ARGV[1] .. 'grant-pair:{' .. accountId .. ':' .. ARGV[2] .. '}')
  if not id then return { value, clients, '' } end
  if string.find(id, '[%%{}:]') then return { value, clients } end
  return { value, clients, redis.call('GET', ARGV[1] .. 'grant:{' .. id .. '}') or '' }
end
`

const sessionWithGrant = `${readSessionWithGrant}
return sessionWithGrant()
`

/**
 * Issue 32: the client KEYS[3] (its JSON, or false) and sessionWithGrant's reply, in one
 * command: an SSO authorization reads the three. Another slot: a single Redis only.
 */
const clientWithSession = `${readSessionWithGrant}
return { redis.call('GET', KEYS[3]) or false, sessionWithGrant() }
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

/**
 * The scripts below touch several keys, all under ONE grant's hash tag (`…:{grantId}`), so
 * each still runs atomically on one Cluster node. A family is a hash: `state` (`a` alive, `r`
 * revoked), `client`, `scope`, `exp` (its end, epoch seconds), `cur` (hash of its current
 * refresh token), `prev`, `rot` (when `prev` was rotated, epoch ms, Redis' clock), `sealed`
 * and `rscope` (the sealed successor and the request scope of that rotation), `rec` (the
 * record's JSON). A refresh token is a string key `iat exp` that lives until it expires, so a
 * rotated token is still known (reuse) until then. Times come from Redis' TIME, so every
 * instance measures the grace window on one clock.
 */

/**
 * Extends a grant (its TTL and the `expiresAt` in its JSON) to ARGV[1] epoch seconds while it
 * exists; never shortens it. Returns the grant's JSON when it is live (to extend its indexes
 * too), false when it is gone.
 */
const extendGrant = `
local json = redis.call('GET', KEYS[1])
if not json then return false end
local grant = cjson.decode(json)
local at = tonumber(ARGV[1])
if grant.expiresAt < at then
  grant.expiresAt = at
  json = cjson.encode(grant)
  redis.call('SET', KEYS[1], json, 'PXAT', at * 1000)
end
return json
`

/** Extends the key's expiry (never shortens it) while it still holds ARGV[1]. */
const extendIfEquals = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'GT')
end
return 0
`

/** The family hash and its first token (KEYS and ARGV as familyStart's); part of both family scripts. */
const familyCreate = `
redis.call('HSET', KEYS[1], 'state', 'a', 'client', ARGV[2], 'scope', ARGV[3], 'exp', ARGV[4], 'cur', ARGV[5], 'rec', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], tonumber(ARGV[4]) * 1000)
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[2], ARGV[6] .. ' ' .. ARGV[7], 'PXAT', tonumber(ARGV[7]) * 1000)
end
`

/**
 * KEYS: family, first token. ARGV: record JSON, client, scope, end (s), first token hash ('' for
 * none), its issuedAt, its expiresAt. Never overwrites a family or its replay tombstone.
 */
const familyStart = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
${familyCreate}
return 1
`

/**
 * Issue 32: familyStart and the index entries that go with it in one command on a single
 * Redis. KEYS: as familyStart, then the grant's family index, then (optional) the session's.
 * ARGV: as familyStart, then the grant index member, the indexes' end (epoch ms) and the
 * session index member. The indexes are written whatever the start answers, as the batch does.
 */
const familyStartIndexed = `
local started = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
${familyCreate}
  started = 1
end
${indexAddFunction}
indexAdd(KEYS[3], ARGV[8], ARGV[9])
if KEYS[4] then indexAdd(KEYS[4], ARGV[10], ARGV[9]) end
return started
`

/**
 * The refresh (RFC 6749 §6, RFC 9700 §4.14.2) in one step. KEYS: grant, family, presented
 * token, successor token. ARGV: client, presented hash, successor hash, sealed successor,
 * successor lifetime (s), grace (ms), request scope ('' when absent).
 * Replies: {'not_found'} | {'wrong_client'} | {'invalid_scope', value}
 *        | {'rotated', rec, iat, exp, grant PEXPIRETIME} | {'retried', rec, sealed, rscope} | {'reused', rec}
 */
const rotate = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
local f = redis.call('HMGET', KEYS[2], 'state', 'client', 'scope', 'exp', 'cur', 'prev', 'rot', 'sealed', 'rscope', 'rec')
if f[1] ~= 'a' then return {'not_found'} end
if redis.call('EXISTS', KEYS[3]) == 0 then return {'not_found'} end
if f[2] ~= ARGV[1] then return {'wrong_client'} end
if ARGV[7] ~= '' then
  local granted = {}
  for value in string.gmatch(f[3], '%S+') do granted[value] = true end
  for value in string.gmatch(ARGV[7], '%S+') do
    if not granted[value] then return {'invalid_scope', value} end
  end
end
local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if f[5] == ARGV[2] then
  local iat = math.floor(nowMs / 1000)
  local exp = math.min(iat + tonumber(ARGV[5]), tonumber(f[4]))
  redis.call('SET', KEYS[4], iat .. ' ' .. exp, 'PXAT', exp * 1000)
  redis.call('HSET', KEYS[2], 'cur', ARGV[3], 'prev', ARGV[2], 'rot', nowMs, 'sealed', ARGV[4], 'rscope', ARGV[7])
  return {'rotated', f[10], iat, exp, redis.call('PEXPIRETIME', KEYS[1])}
end
if f[6] == ARGV[2] and nowMs < tonumber(f[7]) + tonumber(ARGV[6]) then
  return {'retried', f[10], f[8], f[9]}
end
redis.call('HSET', KEYS[2], 'state', 'r')
return {'reused', f[10]}
`

/**
 * KEYS: grant, family, token. The family's current token while all three are alive:
 * {rec, 'iat exp'}, else false.
 */
const familyToken = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local f = redis.call('HMGET', KEYS[2], 'state', 'cur', 'rec')
if f[1] ~= 'a' or f[2] ~= ARGV[1] then return false end
local token = redis.call('GET', KEYS[3])
if not token then return false end
return {f[3], token}
`

/**
 * KEYS: family. Revokes a live family (1), or leaves a tombstone until ARGV[1] (epoch ms) when
 * it does not exist yet, so a racing start cannot create it (0).
 */
const familyRevoke = `
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'a' then
  redis.call('HSET', KEYS[1], 'state', 'r')
  return 1
end
if not state then
  redis.call('HSET', KEYS[1], 'state', 'r')
  redis.call('PEXPIREAT', KEYS[1], ARGV[1])
end
return 0
`

/** KEYS: grant, family. 1 while the grant exists and the family is alive. */
const alive = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[2], 'state') ~= 'a' then return 0 end
return 1
`

/**
 * A connected app: KEYS: grant, its family index. ARGV: the family key's head and tail (the
 * index holds escaped family ids; `head .. id .. tail` is a family key, in the grant's slot).
 * Returns {grant JSON, then record JSON and last rotation (epoch ms, '' if none) per live
 * family}, or false when the grant is gone.
 */
const grantActivity = `
local grant = redis.call('GET', KEYS[1])
if not grant then return false end
local out = { grant }
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local f = redis.call('HMGET', ARGV[1] .. id .. ARGV[2], 'state', 'rec', 'rot')
  if f[1] == 'a' and f[2] then
    table.insert(out, f[2])
    table.insert(out, f[3] or '')
  end
end
return out
`

/** The commands `defineCommand` adds; names are namespaced so they never shadow the host's. */
/**
 * RFC 8628 device authorizations: a hash with the immutable record (`r`), the client (`c`),
 * status (`s`: p pending, a approved, d denied, c consumed), interval in seconds (`i`), the
 * last poll in ms (`t`), the approval (`g`) and the codes' end in ms (`e`). Times from TIME.
 */
const deviceCreate = `
redis.call('HSET', KEYS[1], 'r', ARGV[1], 'c', ARGV[2], 's', 'p', 'i', ARGV[3], 'e', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
return 1
`

/** Approves (ARGV[1] = 'a', ARGV[2] the approval) or denies ('d') a pending, unexpired one. */
const deviceDecide = `
local h = redis.call('HMGET', KEYS[1], 's', 'e')
if h[1] ~= 'p' then return 0 end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if now >= tonumber(h[2]) then return 0 end
redis.call('HSET', KEYS[1], 's', ARGV[1], 'g', ARGV[2])
return 1
`

/**
 * One poll by client ARGV[1]: {'not_found'} | {'expired'} | {'approved', record, approval} |
 * {'denied'} | {'consumed'} | {'slow_down', interval} | {'pending', interval}.
 */
const devicePoll = `
local h = redis.call('HMGET', KEYS[1], 'c', 's', 'i', 't', 'e')
if not h[1] or h[1] ~= ARGV[1] then return {'not_found'} end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if now >= tonumber(h[5]) then return {'expired'} end
redis.call('HSET', KEYS[1], 't', now)
local status = h[2]
if status == 'a' then
  redis.call('HSET', KEYS[1], 's', 'c')
  local out = redis.call('HMGET', KEYS[1], 'r', 'g')
  return {'approved', out[1], out[2]}
end
if status == 'd' then return {'denied'} end
if status == 'c' then return {'consumed'} end
local interval = tonumber(h[3])
if h[4] and now - tonumber(h[4]) < interval * 1000 then
  interval = interval + 5
  redis.call('HSET', KEYS[1], 'i', interval)
  return {'slow_down', interval}
end
return {'pending', interval}
`

export const scripts = {
  oidcConsume: { numberOfKeys: 1, lua: consume },
  oidcConsumeCode: { numberOfKeys: 1, lua: consumeCode },
  oidcSaveCodeOnce: { numberOfKeys: 2, lua: saveCodeOnce },
  oidcDeviceCreate: { numberOfKeys: 1, lua: deviceCreate },
  oidcDeviceDecide: { numberOfKeys: 1, lua: deviceDecide },
  oidcDevicePoll: { numberOfKeys: 1, lua: devicePoll },
  oidcIndexAdd: { numberOfKeys: 1, lua: indexAdd },
  oidcCounterIncrement: { numberOfKeys: 1, lua: counterIncrement },
  oidcCounterRead: { numberOfKeys: 1, lua: counterRead, readOnly: true },
  oidcDeleteIfEquals: { numberOfKeys: 1, lua: deleteIfEquals },
  oidcSessionClientAdd: { numberOfKeys: 2, lua: sessionClientAdd },
  oidcSessionTake: { numberOfKeys: 2, lua: sessionTake },
  oidcExtendGrant: { numberOfKeys: 1, lua: extendGrant },
  oidcExtendIfEquals: { numberOfKeys: 1, lua: extendIfEquals },
  oidcFamilyStart: { numberOfKeys: 2, lua: familyStart },
  oidcFamilyStartIndexed: { lua: familyStartIndexed },
  oidcRotate: { numberOfKeys: 4, lua: rotate },
  oidcFamilyToken: { numberOfKeys: 3, lua: familyToken, readOnly: true },
  oidcFamilyRevoke: { numberOfKeys: 1, lua: familyRevoke },
  oidcAlive: { numberOfKeys: 2, lua: alive, readOnly: true },
  // Issue 19: fewer commands per request on a single Redis (KEYS counts are given per call).
  oidcCountersRead: { lua: countersRead, readOnly: true },
  oidcClientWithCounters: { lua: clientWithCounters, readOnly: true },
  oidcGrantByPair: { numberOfKeys: 1, lua: grantByPair, readOnly: true },
  oidcTokenAlive: { lua: tokenAlive, readOnly: true },
  oidcSessionGet: { numberOfKeys: 2, lua: sessionGet, readOnly: true },
  oidcSessionWithGrant: { numberOfKeys: 2, lua: sessionWithGrant, readOnly: true },
  oidcClientWithSession: { numberOfKeys: 3, lua: clientWithSession, readOnly: true },
  // Issue 30: connected apps (one script per grant, in the grant's slot).
  oidcGrantActivity: { numberOfKeys: 2, lua: grantActivity, readOnly: true },
} as const

/** `oidcSessionWithGrant`'s reply: none, the session without its grant read, or with it ('' when none). */
export type SessionWithGrantReply = [string, string[]] | [string, string[], string] | null

/** How the client looks once the scripts are defined (ioredis adds them at runtime). */
export interface ScriptCommands {
  oidcConsume (key: string): Promise<string | null>
  oidcConsumeCode (key: string, grantKeyHead: string): Promise<[string] | [string, string] | null>
  oidcSaveCodeOnce (usedKey: string, codeKey: string, usedUntilMs: number, codeExpiresAtMs: number, value: string): Promise<number>
  oidcDeviceCreate (key: string, record: string, clientId: string, interval: number, codeExpiresAtMs: number, expiresAtMs: number): Promise<number>
  oidcDeviceDecide (key: string, status: 'a' | 'd', approval: string): Promise<number>
  oidcDevicePoll (key: string, clientId: string): Promise<Array<string | number>>
  oidcIndexAdd (key: string, member: string, expiresAtMs: number): Promise<number>
  oidcCounterIncrement (key: string, windowSeconds: number): Promise<[number, number]>
  oidcCounterRead (key: string): Promise<[number, number] | null>
  oidcDeleteIfEquals (key: string, value: string): Promise<number>
  oidcSessionClientAdd (sessionKey: string, clientsKey: string, clientId: string): Promise<number>
  oidcSessionTake (sessionKey: string, clientsKey: string): Promise<[string, string[]] | null>
  oidcExtendGrant (key: string, expiresAt: number): Promise<string | null>
  oidcExtendIfEquals (key: string, value: string, expiresAtMs: number): Promise<number>
  oidcFamilyStart (familyKey: string, tokenKey: string, ...args: Array<string | number>): Promise<number>
  oidcFamilyStartIndexed (numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number>
  oidcRotate (grantKey: string, familyKey: string, tokenKey: string, successorKey: string, ...args: Array<string | number>): Promise<Array<string | number>>
  oidcFamilyToken (grantKey: string, familyKey: string, tokenKey: string, tokenHash: string): Promise<[string, string] | null>
  oidcFamilyRevoke (familyKey: string, tombstoneUntilMs: number): Promise<number>
  oidcAlive (grantKey: string, familyKey: string): Promise<number>
  oidcCountersRead (numberOfKeys: number, ...keys: string[]): Promise<Array<[number, number] | null>>
  oidcClientWithCounters (numberOfKeys: number, ...keys: string[]): Promise<[string | null, ...Array<[number, number] | null>]>
  oidcGrantByPair (pairKey: string, grantKeyPrefix: string): Promise<[string, string] | [string] | null>
  oidcTokenAlive (numberOfKeys: number, ...keys: string[]): Promise<number>
  oidcSessionGet (sessionKey: string, clientsKey: string): Promise<[string, string[]] | null>
  oidcSessionWithGrant (sessionKey: string, clientsKey: string, prefix: string, clientId: string): Promise<SessionWithGrantReply>
  oidcClientWithSession (sessionKey: string, clientsKey: string, clientKey: string, prefix: string, clientId: string): Promise<[string | null, SessionWithGrantReply]>
  oidcGrantActivity (grantKey: string, familiesKey: string, familyKeyHead: string, familyKeyTail: string): Promise<string[] | null>
}
