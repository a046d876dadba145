import type { Cluster, Redis } from 'ioredis'
import type { PasskeyStore, PasskeyUse, StoredPasskey } from '../../contracts/passkeys.js'
import { StoreUnavailableError } from '../../contracts/errors.js'

export interface RedisPasskeyStoreOptions {
  /** An ioredis `Redis` or `Cluster` client (the host owns the connection, as for `RedisStore`). */
  client: Redis | Cluster
  /** Prepended to every key. Default `oidc:`. */
  prefix?: string
  /** Upper bound for one operation, ms; past it `StoreUnavailableError` (503). Default 2000. */
  operationTimeoutMs?: number
}

/*
 * Every key carries the one hash tag `{passkeys}`, so each operation is one Lua script over
 * one slot, on a single Redis or a Cluster alike: a credential (`passkey:<id>`) and its user's
 * index (`passkeys-of:<account>`, a sorted set by creation time) change together or not at all.
 * Passkey operations happen once per sign-in, so one slot is far from a hot spot.
 */
const createScript = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1`

// Compare-and-set on the counter: two sign-ins that read one counter value cannot both record.
const useScript = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local passkey = cjson.decode(raw)
if passkey.counter ~= tonumber(ARGV[1]) then return 0 end
passkey.counter = tonumber(ARGV[2])
passkey.backedUp = ARGV[3] == '1'
passkey.lastUsedAt = tonumber(ARGV[4])
redis.call('SET', KEYS[1], cjson.encode(passkey))
return 1`

const renameScript = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local passkey = cjson.decode(raw)
if passkey.accountId ~= ARGV[1] then return 0 end
passkey.name = ARGV[2]
redis.call('SET', KEYS[1], cjson.encode(passkey))
return 1`

const deleteScript = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
if cjson.decode(raw).accountId ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1`

/**
 * Passkeys in Redis, shared by every provider instance using the same Redis and prefix.
 *
 * @example
 * const passkeys = new RedisPasskeyStore({ client: redis, prefix: 'id:' })
 * await app.register(oidcProvider, { issuer, store, passkeys: { store: passkeys } })
 */
export class RedisPasskeyStore implements PasskeyStore {
  readonly #client: Redis | Cluster
  readonly #prefix: string
  readonly #timeoutMs: number

  constructor (options: RedisPasskeyStoreOptions) {
    const { client, prefix = 'oidc:', operationTimeoutMs = 2000 } = options ?? {}
    if (client === null || typeof client !== 'object' || typeof client.eval !== 'function') {
      throw new TypeError('RedisPasskeyStore: option "client" must be an ioredis Redis or Cluster client')
    }
    if (typeof prefix !== 'string' || /[{}]/.test(prefix)) throw new TypeError('RedisPasskeyStore: option "prefix" must be a string without "{" or "}"')
    if (!Number.isFinite(operationTimeoutMs) || operationTimeoutMs <= 0) throw new TypeError('RedisPasskeyStore: option "operationTimeoutMs" must be a positive number')
    this.#client = client
    this.#prefix = prefix
    this.#timeoutMs = operationTimeoutMs
  }

  #credentialKey (credentialId: string): string {
    return `${this.#prefix}{passkeys}:passkey:${credentialId}`
  }

  #accountKey (accountId: string): string {
    return `${this.#prefix}{passkeys}:passkeys-of:${encodeURIComponent(accountId)}`
  }

  async createPasskey (passkey: StoredPasskey): Promise<boolean> {
    const created = await this.#op('createPasskey', async () => await this.#client.eval(createScript, 2,
      this.#credentialKey(passkey.credentialId), this.#accountKey(passkey.accountId),
      JSON.stringify(passkey), passkey.createdAt, passkey.credentialId))
    return created === 1
  }

  async findPasskey (credentialId: string): Promise<StoredPasskey | undefined> {
    const raw = await this.#op('findPasskey', async () => await this.#client.get(this.#credentialKey(credentialId)))
    return raw === null ? undefined : JSON.parse(raw) as StoredPasskey
  }

  async listPasskeys (accountId: string): Promise<StoredPasskey[]> {
    const ids = await this.#op('listPasskeys', async () => await this.#client.zrange(this.#accountKey(accountId), '0', '-1'))
    if (ids.length === 0) return []
    const raws = await this.#op('listPasskeys', async () => await this.#client.mget(...ids.map((id) => this.#credentialKey(id))))
    return raws.flatMap((raw) => raw === null ? [] : [JSON.parse(raw) as StoredPasskey])
  }

  async recordPasskeyUse (credentialId: string, use: PasskeyUse): Promise<boolean> {
    const recorded = await this.#op('recordPasskeyUse', async () => await this.#client.eval(useScript, 1,
      this.#credentialKey(credentialId), use.previousCounter, use.counter, use.backedUp ? '1' : '0', use.usedAt))
    return recorded === 1
  }

  async renamePasskey (accountId: string, credentialId: string, name: string): Promise<boolean> {
    const renamed = await this.#op('renamePasskey', async () => await this.#client.eval(renameScript, 1, this.#credentialKey(credentialId), accountId, name))
    return renamed === 1
  }

  async deletePasskey (accountId: string, credentialId: string): Promise<boolean> {
    const deleted = await this.#op('deletePasskey', async () => await this.#client.eval(deleteScript, 2,
      this.#credentialKey(credentialId), this.#accountKey(accountId), accountId, credentialId))
    return deleted === 1
  }

  /** One operation, bounded in time; any Redis failure becomes `StoreUnavailableError` (503). */
  async #op<T> (operation: string, run: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new StoreUnavailableError(`redis passkey store: ${operation} did not complete within ${this.#timeoutMs} ms`)) }, this.#timeoutMs)
    })
    try {
      return await Promise.race([run(), timedOut])
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error
      throw new StoreUnavailableError(`redis passkey store: ${operation} failed`, { cause: error })
    } finally {
      clearTimeout(timer)
    }
  }
}
