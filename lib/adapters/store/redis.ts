import type { Cluster, Redis } from 'ioredis'
import { StoreUnavailableError } from '../../contracts/errors.js'
import { grantActivity } from './grant-activity.js'
import { scripts, type ScriptCommands, type SessionWithGrantReply } from './redis-scripts.js'
import type {
  AuthorizationCodeRecord,
  ClientPage,
  ClientRecord,
  ClientsPage,
  CodeConsumeResult,
  ConsumeResult,
  DeviceApproval,
  DeviceAuthorizationRecord,
  DeviceAuthorizationStatus,
  DevicePollResult,
  EpochSeconds,
  AccountGrantsPage,
  FamilyTokenRecord,
  GrantActivity,
  GrantPage,
  GrantRecord,
  InteractionRecord,
  RefreshTokenRecord,
  RefreshFamilyRecord,
  RefreshRotation,
  RefreshTokenState,
  RotationResult,
  SessionRecord,
  Store,
} from '../../contracts/store.js'

/** Options of `new RedisStore(options)`. */
export interface RedisStoreOptions {
  /**
   * An ioredis `Redis` or `Cluster` client. The host owns the connection: it chooses the
   * reconnect and timeout options (see `examples/redis.ts`) and quits it; `close()` does not.
   */
  client: Redis | Cluster
  /** Prepended to every key, so several providers (or apps) can share one Redis. Default `oidc:`. */
  prefix?: string
  /**
   * Upper bound for one store operation, in milliseconds. An operation that has not completed
   * by then throws `StoreUnavailableError` (endpoints answer 503) instead of hanging the
   * request. Default 2000.
   */
  operationTimeoutMs?: number
}

type Arg = string | number
/** A session and its user's grant to one client (`getSessionWithGrant`). */
type SessionWithGrant = { session: SessionRecord, grant: GrantRecord | undefined }
type Command = [name: string, ...args: Arg[]]
type Settled = [error: Error | null, value: unknown]

/** The device hash's status letters (redis-scripts.ts). */
const deviceStatuses: Readonly<Record<string, DeviceAuthorizationStatus>> = { p: 'pending', a: 'approved', d: 'denied', c: 'consumed' }

/** ioredis lets any string through as a key; these characters are escaped (see `#key`). */
const keyUnsafe = /[%{}:]/g

/**
 * The production store: Redis (or Redis Cluster) through ioredis, shared by every provider
 * instance that uses the same Redis and prefix.
 *
 * - Single-use records are consumed by Lua scripts (one key each, registered once per client
 *   with `defineCommand`), so of N concurrent consumers in any number of processes exactly one
 *   wins; consumed codes and refresh tokens stay as tombstones until their `expiresAt`.
 * - Every key gets its record's `expiresAt` as TTL (`PXAT`), except clients. Grants are indexed
 *   by (account, client) and by account and client sets whose TTL follows their longest-lived
 *   grant, so revoking never scans the keyspace and indexes never outlive their grants.
 * - Each operation is one round trip where the contract allows it (a few grant operations
 *   need two), and is bounded by `operationTimeoutMs`: any connection error or timeout is thrown
 *   as `StoreUnavailableError`, and the next call works again once ioredis has reconnected.
 * - Every script touches one key, or several keys of one grant (its record, its refresh
 *   families and their tokens all end in the grant's hash tag, `…:{grantId}`), so the same code
 *   runs on a Cluster whatever the slots. Ids are wrapped in a hash tag (`{id}`) so a key's slot
 *   depends on its id alone.
 * - A refresh is one script (`rotateRefreshToken`): grant and family alive, token known and of
 *   this client, scope granted, then rotate, grace retry or reuse, on Redis' clock.
 *
 * Needs Redis 7.0 or later (EXPIRE NX/GT, PEXPIRETIME). Expiry times come from the provider's
 * clock; keep the provider hosts and Redis in NTP sync.
 *
 * @example
 * import { Redis } from 'ioredis'
 * import { oidcProvider, RedisStore } from 'fastify-oidc-provider'
 *
 * const redis = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
 * redis.on('error', (err) => app.log.warn({ err }, 'redis'))
 * await app.register(oidcProvider, { issuer, store: new RedisStore({ client: redis, prefix: 'id:' }) })
 * app.addHook('onClose', async () => { await redis.quit() })
 */
export class RedisStore implements Store {
  readonly #client: Redis | Cluster
  readonly #scripts: ScriptCommands
  readonly #prefix: string
  readonly #timeoutMs: number

  constructor (options: RedisStoreOptions) {
    const { client, prefix = 'oidc:', operationTimeoutMs = 2000 } = options ?? {}
    if (client === null || typeof client !== 'object' || typeof client.defineCommand !== 'function') {
      throw new TypeError('RedisStore: option "client" must be an ioredis Redis or Cluster client')
    }
    if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
      // A brace in the prefix would become the hash tag of every key and put them all in one slot.
      throw new TypeError('RedisStore: option "prefix" must be a string without "{" or "}"')
    }
    if (!Number.isFinite(operationTimeoutMs) || operationTimeoutMs <= 0) {
      throw new TypeError('RedisStore: option "operationTimeoutMs" must be a positive number')
    }
    defineScripts(client)
    this.#client = client
    this.#scripts = client as unknown as ScriptCommands
    this.#prefix = prefix
    this.#timeoutMs = operationTimeoutMs
  }

  /** Nothing to release: the host owns the Redis connection and quits it itself. */
  async close (): Promise<void> {}

  /**
   * PING, bounded by `operationTimeoutMs` like every operation. On a Cluster every master is
   * pinged: a key's operations fail while its slot's master is down, so one unreachable master
   * means not ready; no known master at all (not connected yet) is not ready either.
   */
  async ping (): Promise<void> {
    await this.#op('ping', async () => {
      if (!this.#client.isCluster) {
        await this.#client.ping()
        return
      }
      const masters = (this.#client as Cluster).nodes('master')
      if (masters.length === 0) throw new Error('no cluster master is connected')
      await Promise.all(masters.map(async (node) => await node.ping()))
    })
  }

  // clients: never expire ----------------------------------------------------------------------

  async getClient (clientId: string): Promise<ClientRecord | undefined> {
    return parse(await this.#op('getClient', async () => await this.#client.get(this.#key('client', clientId))))
  }

  /**
   * One round trip: the record and its entry in the client index (a sorted set read by
   * `listClients`; on a Cluster the two are on different slots, so not atomic together: the
   * list skips an indexed id whose record is gone).
   */
  async saveClient (client: ClientRecord): Promise<void> {
    await this.#op('saveClient', async () => settledValues(await this.#batch([
      ['set', this.#key('client', client.client_id), JSON.stringify(client)],
      ['zadd', this.#clientsIndexKey(), 0, client.client_id],
    ])))
  }

  async deleteClient (clientId: string): Promise<boolean> {
    const [deleted] = await this.#op('deleteClient', async () => settledValues(await this.#batch([
      ['del', this.#key('client', clientId)],
      ['zrem', this.#clientsIndexKey(), clientId],
    ])))
    return deleted === 1
  }

  /** Two round trips: a page of the index (ZRANGE BYLEX), then the records. */
  async listClients (page: ClientPage): Promise<ClientsPage> {
    return await this.#op('listClients', async () => {
      const start = page.after === undefined ? '-' : `(${page.after}`
      const ids = await this.#client.zrange(this.#clientsIndexKey(), start, '+', 'BYLEX', 'LIMIT', 0, page.limit + 1)
      const slice = ids.slice(0, page.limit)
      const records = settledValues(await this.#batch(slice.map((clientId): Command => ['get', this.#key('client', clientId)])))
      const clients = records.flatMap((json) => typeof json === 'string' ? [JSON.parse(json) as ClientRecord] : [])
      const last = slice.at(-1)
      return ids.length > slice.length && last !== undefined ? { clients, next: last } : { clients }
    })
  }

  /** SET XX: Redis writes only while the key exists, atomically, so a racing DEL always wins. */
  async updateClientIfExists (client: ClientRecord): Promise<boolean> {
    return await this.#op('updateClientIfExists', async () =>
      await this.#client.set(this.#key('client', client.client_id), JSON.stringify(client), 'XX')) === 'OK'
  }

  // codes: RFC 6749 §4.1.2 (single use), §10.5 --------------------------------------------------

  async saveCode (codeHash: string, record: AuthorizationCodeRecord): Promise<void> {
    await this.#op('saveCode', async () =>
      await this.#client.set(this.#key('code', codeHash), active(record), 'PXAT', pxat(record.expiresAt)))
  }

  /** One script on a single Redis; on a Cluster (two slots) the mark, then the code. */
  async saveCodeOnce (codeHash: string, record: AuthorizationCodeRecord, usedKey: string, usedUntil: EpochSeconds): Promise<boolean> {
    if (this.#client.isCluster) {
      if (!await this.markUsed(usedKey, usedUntil)) return false
      await this.saveCode(codeHash, record)
      return true
    }
    return await this.#op('saveCodeOnce', async () => await this.#scripts.oidcSaveCodeOnce(
      this.#key('used', usedKey), this.#key('code', codeHash), pxat(usedUntil), pxat(record.expiresAt), active(record))) === 1
  }

  /** On a single Redis one script consumes the code and reads its grant; on a Cluster (other slots) the provider reads the grant. */
  async consumeCode (codeHash: string): Promise<CodeConsumeResult> {
    if (this.#client.isCluster) {
      return consumeResult(await this.#op('consumeCode', async () => await this.#scripts.oidcConsume(this.#key('code', codeHash))))
    }
    const reply = await this.#op('consumeCode', async () => await this.#scripts.oidcConsumeCode(this.#key('code', codeHash), `${this.#prefix}grant:`))
    const result = consumeResult<AuthorizationCodeRecord>(reply?.[0] ?? null)
    if (result.status !== 'consumed' || reply?.[1] === undefined) return result
    return { ...result, grant: reply[1] === '' ? null : JSON.parse(reply[1]) as GrantRecord }
  }

  // refresh tokens: RFC 6749 §6, RFC 9700 §4.14.2 (rotation and reuse detection) ---------------

  async saveRefreshToken (tokenHash: string, record: RefreshTokenRecord): Promise<void> {
    await this.#op('saveRefreshToken', async () =>
      await this.#client.set(this.#key('refresh', tokenHash), active(record), 'PXAT', pxat(record.expiresAt)))
  }

  async findRefreshToken (tokenHash: string): Promise<RefreshTokenState | undefined> {
    const value = await this.#op('findRefreshToken', async () => await this.#client.get(this.#key('refresh', tokenHash)))
    if (value === null) return undefined
    const { consumed, record } = decodeSingleUse<RefreshTokenRecord>(value)
    return { status: consumed ? 'consumed' : 'active', record }
  }

  /**
   * The old and the new token hash to unrelated slots, so no script can touch both on a
   * Cluster. Instead one round trip carries `SET new (active, PXAT)` and the single-key consume
   * script on the old token: the script alone decides the winner, atomically. A caller that did
   * not win deletes the replacement it wrote (the rare path); until then that key holds the
   * hash of a token nobody was given, so it grants nothing. A winner whose replacement failed
   * to be written gets `StoreUnavailableError` rather than a rotation that is half done.
   */
  async consumeRefreshToken (
    tokenHash: string,
    replacement?: { tokenHash: string, record: RefreshTokenRecord }
  ): Promise<ConsumeResult<RefreshTokenRecord>> {
    const oldKey = this.#key('refresh', tokenHash)
    if (replacement === undefined) {
      return consumeResult(await this.#op('consumeRefreshToken', async () => await this.#scripts.oidcConsume(oldKey)))
    }
    const newKey = this.#key('refresh', replacement.tokenHash)
    const value = await this.#op('consumeRefreshToken', async () => {
      const [written, consumed] = await this.#batch([
        ['set', newKey, active(replacement.record), 'PXAT', pxat(replacement.record.expiresAt)],
        ['oidcConsume', oldKey],
      ])
      const [consumeError, previous] = consumed ?? [new Error('no reply'), null]
      const won = consumeError === null && typeof previous === 'string' && !decodeSingleUse(previous).consumed
      if (!won) {
        // Lost, unknown or failed: the replacement must not stay findable.
        await this.#client.del(newKey).catch(() => {})
        if (consumeError !== null) throw consumeError
        return typeof previous === 'string' ? previous : null
      }
      if (written?.[0] !== null && written?.[0] !== undefined) throw written[0]
      return previous
    })
    return consumeResult(value)
  }

  // grants ------------------------------------------------------------------------------------

  /**
   * One round trip: the two index sets, the (account, client) pointer and the record. They are
   * not written atomically (on a Cluster they live on different nodes); if any write fails the
   * call throws, and the provider issues nothing under a grant whose save failed, so a partly
   * written grant is never used and simply expires.
   */
  async saveGrant (grant: GrantRecord): Promise<void> {
    const at = pxat(grant.expiresAt)
    await this.#op('saveGrant', async () => {
      settledValues(await this.#batch([
        ['oidcIndexAdd', this.#accountIndexKey(grant.accountId), grant.grantId, at],
        ['oidcIndexAdd', this.#clientIndexKey(grant.clientId), grant.grantId, at],
        ['set', this.#pairKey(grant.accountId, grant.clientId), grant.grantId, 'PXAT', at],
        ['set', this.#key('grant', grant.grantId), JSON.stringify(grant), 'PXAT', at],
      ]))
    })
  }

  async getGrant (grantId: string): Promise<GrantRecord | undefined> {
    return parse(await this.#op('getGrant', async () => await this.#client.get(this.#key('grant', grantId))))
  }

  /**
   * The pair pointer, then the grant. They hash to different slots: on a Cluster two round
   * trips; on a single Redis one script reads both (one command on every SSO authorization).
   */
  async findGrant (accountId: string, clientId: string): Promise<GrantRecord | undefined> {
    const grant = parse<GrantRecord>(await this.#op('findGrant', async () => {
      const pairKey = this.#pairKey(accountId, clientId)
      let grantId: string | null
      if (!this.#client.isCluster) {
        const reply = await this.#scripts.oidcGrantByPair(pairKey, `${this.#prefix}grant:`)
        if (reply === null) return null
        if (reply.length === 2) return reply[1]
        grantId = reply[0]
      } else {
        grantId = await this.#client.get(pairKey)
      }
      return grantId === null ? null : await this.#client.get(this.#key('grant', grantId))
    }))
    return grant?.accountId === accountId && grant.clientId === clientId ? grant : undefined
  }

  /**
   * O(1): GETDEL on the grant decides the outcome atomically (one of concurrent revocations
   * gets `true`), and everything issued under the grant dies with it because codes, refresh
   * tokens and access tokens are only honoured while their grant exists.
   */
  async revokeGrant (grantId: string): Promise<boolean> {
    return await this.#op('revokeGrant', async () => {
      const json = await this.#client.getdel(this.#key('grant', grantId))
      if (json === null) return false
      await this.#unindex([JSON.parse(json) as GrantRecord])
      return true
    })
  }

  async revokeAccountGrants (accountId: string): Promise<number> {
    return await this.#op('revokeAccountGrants', async () => await this.#revokeIndexed(this.#accountIndexKey(accountId)))
  }

  /**
   * The client's grants, and the families token exchanges started for it under other clients'
   * grants (its `client-families` index), which no grant of its own would take along.
   */
  async revokeClientGrants (clientId: string): Promise<number> {
    return await this.#op('revokeClientGrants', async () => {
      await this.#revokeFamiliesOf([this.#clientFamiliesKey(clientId)])
      return await this.#revokeIndexed(this.#clientIndexKey(clientId))
    })
  }

  /**
   * One script on the grant (extends its TTL and record, never shortens, never recreates), then,
   * only when it is live, one round trip extending its indexes so they never expire before it.
   */
  async extendGrant (grantId: string, expiresAt: EpochSeconds): Promise<boolean> {
    return await this.#op('extendGrant', async () => {
      const json = await this.#scripts.oidcExtendGrant(this.#key('grant', grantId), Math.floor(expiresAt))
      if (json === null) return false
      const grant = JSON.parse(json) as GrantRecord
      const at = pxat(grant.expiresAt)
      settledValues(await this.#batch([
        ['oidcIndexAdd', this.#accountIndexKey(grant.accountId), grant.grantId, at],
        ['oidcIndexAdd', this.#clientIndexKey(grant.clientId), grant.grantId, at],
        ['oidcExtendIfEquals', this.#pairKey(grant.accountId, grant.clientId), grant.grantId, at],
      ]))
      return true
    })
  }

  /**
   * Two round trips whatever the page size: the account's index (SMEMBERS; a user has a handful
   * of grants), then one read-only script per grant of the page, each in its grant's slot.
   */
  async listAccountGrants (accountId: string, page: GrantPage): Promise<AccountGrantsPage> {
    return await this.#op('listAccountGrants', async () => {
      const ids = (await this.#client.smembers(this.#accountIndexKey(accountId))).sort()
      const after = page.after
      const from = after === undefined ? ids : ids.filter((grantId) => grantId > after)
      const slice = from.slice(0, page.limit)
      const replies = settledValues(await this.#batch(slice.map((grantId): Command => [
        'oidcGrantActivity', this.#key('grant', grantId), this.#key('grant-families', grantId),
        `${this.#prefix}family:`, `:{${escapeKeyPart(grantId)}}`,
      ])))
      const grants = replies.flatMap((reply): GrantActivity[] => Array.isArray(reply) ? [replyActivity(reply as string[])] : [])
      const last = slice.at(-1)
      return from.length > slice.length && last !== undefined ? { grants, next: last } : { grants }
    })
  }

  // refresh-token families: RFC 9700 §4.14.2 -------------------------------------------------

  /**
   * One round trip: the family and its first token (one script, the grant's slot) and, for a
   * family that ends with its login session, its entry in the session's index (the session's
   * slot; the index lives as long as its longest family).
   */
  async startRefreshFamily (family: RefreshFamilyRecord, first?: FamilyTokenRecord): Promise<boolean> {
    const indexSession = family.sessionId !== undefined && !family.offline && first !== undefined
    // A token exchange's family lives under another client's grant: its client's own index lets
    // revokeClientGrants reach it. Written before the family, so no started family is missing
    // from it; an entry whose family never started revokes nothing. A round trip more, for
    // exchanges with refresh tokens only.
    if (family.exchange !== undefined) {
      await this.#op('startRefreshFamily', async () => await this.#scripts.oidcIndexAdd(this.#clientFamiliesKey(family.clientId), familyMember(family), pxat(family.expiresAt)))
    }
    if (!this.#client.isCluster) {
      // Issue 32: one script for the family and its index entries (the session's index is in
      // another slot, which a single Redis allows).
      const keys = [
        this.#familyKey(family.grantId, family.familyId),
        this.#familyTokenKey(family.grantId, first?.tokenHash ?? 'none'),
        this.#key('grant-families', family.grantId),
        ...(indexSession ? [this.#sessionFamiliesKey(family.sessionId!)] : []),
      ]
      const started = await this.#op('startRefreshFamily', async () => await this.#scripts.oidcFamilyStartIndexed(
        keys.length, ...keys,
        JSON.stringify(family), family.clientId, family.scope, Math.floor(family.expiresAt),
        first?.tokenHash ?? '', first?.issuedAt ?? 0, first?.expiresAt ?? 0,
        escapeKeyPart(family.familyId), pxat(family.expiresAt), indexSession ? familyMember(family) : ''))
      return started === 1
    }
    const commands: Command[] = [[
      'oidcFamilyStart',
      this.#familyKey(family.grantId, family.familyId),
      this.#familyTokenKey(family.grantId, first?.tokenHash ?? 'none'),
      JSON.stringify(family), family.clientId, family.scope, Math.floor(family.expiresAt),
      first?.tokenHash ?? '', first?.issuedAt ?? 0, first?.expiresAt ?? 0,
    ]]
    // The grant's family index (connected apps), in the grant's slot, as long-lived as its longest family.
    commands.push(['oidcIndexAdd', this.#key('grant-families', family.grantId), escapeKeyPart(family.familyId), pxat(family.expiresAt)])
    if (indexSession) {
      commands.push(['oidcIndexAdd', this.#sessionFamiliesKey(family.sessionId!), familyMember(family), pxat(family.expiresAt)])
    }
    const [started] = await this.#op('startRefreshFamily', async () => settledValues(await this.#batch(commands)))
    return started === 1
  }

  /** One script, one round trip: every key is under the grant's hash tag. */
  async rotateRefreshToken (rotation: RefreshRotation): Promise<RotationResult> {
    const { grantId, familyId } = rotation
    const reply = await this.#op('rotateRefreshToken', async () => await this.#scripts.oidcRotate(
      this.#key('grant', grantId),
      this.#familyKey(grantId, familyId),
      this.#familyTokenKey(grantId, rotation.tokenHash),
      this.#familyTokenKey(grantId, rotation.successor.tokenHash),
      rotation.clientId,
      rotation.tokenHash,
      rotation.successor.tokenHash,
      rotation.successor.sealed,
      Math.max(1, Math.floor(rotation.successor.lifetimeSeconds)),
      Math.max(0, Math.floor(rotation.graceSeconds * 1000)),
      rotation.scope ?? ''
    ))
    const [status, ...rest] = reply
    switch (status) {
      case 'rotated': {
        const [rec, issuedAt, expiresAt, grantExpiresMs] = rest
        return {
          status,
          family: JSON.parse(String(rec)) as RefreshFamilyRecord,
          successor: { tokenHash: rotation.successor.tokenHash, issuedAt: Number(issuedAt), expiresAt: Number(expiresAt) },
          grantExpiresAt: Math.floor(Number(grantExpiresMs) / 1000),
        }
      }
      case 'retried': {
        const [rec, sealed, scope] = rest
        return {
          status,
          family: JSON.parse(String(rec)) as RefreshFamilyRecord,
          sealed: String(sealed),
          scope: scope === '' || scope === undefined ? undefined : String(scope),
        }
      }
      case 'reused': return { status, family: JSON.parse(String(rest[0])) as RefreshFamilyRecord }
      case 'wrong_client': return { status }
      case 'invalid_scope': return { status, scope: String(rest[0]) }
      default: return { status: 'not_found' }
    }
  }

  async findFamilyRefreshToken (grantId: string, familyId: string, tokenHash: string): Promise<{ family: RefreshFamilyRecord, token: FamilyTokenRecord } | undefined> {
    const reply = await this.#op('findFamilyRefreshToken', async () => await this.#scripts.oidcFamilyToken(
      this.#key('grant', grantId), this.#familyKey(grantId, familyId), this.#familyTokenKey(grantId, tokenHash), tokenHash))
    if (reply === null) return undefined
    const [issuedAt, expiresAt] = reply[1].split(' ').map(Number)
    return { family: JSON.parse(reply[0]) as RefreshFamilyRecord, token: { tokenHash, issuedAt: issuedAt ?? 0, expiresAt: expiresAt ?? 0 } }
  }

  async revokeRefreshFamily (grantId: string, familyId: string, tombstoneUntil: EpochSeconds): Promise<boolean> {
    return await this.#op('revokeRefreshFamily', async () =>
      await this.#scripts.oidcFamilyRevoke(this.#familyKey(grantId, familyId), pxat(tombstoneUntil))) === 1
  }

  /**
   * Reads the session's family index, then revokes each family on its grant's slot (one
   * round trip for all of them) and drops the index. Logout is rare; the index keeps it O(n)
   * in the session's families, never a scan.
   */
  async revokeSessionFamilies (sessionId: string): Promise<number> {
    return await this.#op('revokeSessionFamilies', async () => await this.#revokeFamiliesOf([this.#sessionFamiliesKey(sessionId)]))
  }

  /**
   * Revokes the families family indexes list (a session's, a client's): three round trips
   * whatever their number: read the indexes, revoke, drop them.
   */
  async #revokeFamiliesOf (indexKeys: string[]): Promise<number> {
    const members = settledValues(await this.#batch(indexKeys.map((key): Command => ['smembers', key]))).flat() as string[]
    if (members.length === 0) return 0
    const commands = members.flatMap((member): Command[] => {
      const [grantId, familyId] = member.split('\n')
      // A tombstone "until 1 ms after the epoch" is no tombstone: Redis drops it at once.
      return grantId === undefined || familyId === undefined ? [] : [['oidcFamilyRevoke', this.#familyKey(grantId, familyId), 1]]
    })
    const revoked = settledValues(await this.#batch(commands))
    await this.#batch(indexKeys.map((key): Command => ['del', key]))
    return revoked.reduce<number>((sum, count) => sum + Number(count), 0)
  }

  /** Revokes the grants an index set lists: read the set, GETDEL every grant, tidy the indexes. */
  async #revokeIndexed (indexKey: string): Promise<number> {
    const grantIds = await this.#client.smembers(indexKey)
    if (grantIds.length === 0) return 0
    const previous = settledValues(await this.#batch(grantIds.map((grantId): Command => ['getdel', this.#key('grant', grantId)])))
    const revoked = previous.filter((json): json is string => typeof json === 'string').map((json) => JSON.parse(json) as GrantRecord)
    // Ids of grants that had already expired or been revoked leave the index as well.
    await this.#unindex(revoked, [['srem', indexKey, ...grantIds]])
    return revoked.length
  }

  /**
   * Removes revoked grants from their indexes. Best effort: the grants are already gone, and a
   * leftover index entry points to nothing and expires with the index.
   */
  async #unindex (grants: GrantRecord[], extra: Command[] = []): Promise<void> {
    const commands: Command[] = [...extra]
    for (const grant of grants) {
      commands.push(
        ['oidcDeleteIfEquals', this.#pairKey(grant.accountId, grant.clientId), grant.grantId],
        ['srem', this.#accountIndexKey(grant.accountId), grant.grantId],
        ['srem', this.#clientIndexKey(grant.clientId), grant.grantId]
      )
    }
    if (commands.length > 0) await this.#batch(commands)
  }

  // access tokens: RFC 7009 §2, RFC 9068 -------------------------------------------------------

  async revokeAccessToken (jti: string, expiresAt: EpochSeconds): Promise<void> {
    await this.#op('revokeAccessToken', async () => await this.#client.set(this.#key('revoked-jti', jti), '1', 'PXAT', pxat(expiresAt)))
  }

  /**
   * One round trip: on a single Redis one script (deny-list entry, grant, family); on a Cluster
   * two commands, EXISTS on the deny-list entry and on the grant (with the family's state in
   * one script when the token names its family: same slot).
   */
  async isAccessTokenRevoked (jti: string, grantId: string | undefined, familyId?: string): Promise<boolean> {
    const jtiKey = this.#key('revoked-jti', jti)
    if (grantId === undefined) {
      return await this.#op('isAccessTokenRevoked', async () => await this.#client.exists(jtiKey)) === 1
    }
    if (!this.#client.isCluster) {
      const keys = familyId === undefined
        ? [jtiKey, this.#key('grant', grantId)]
        : [jtiKey, this.#key('grant', grantId), this.#familyKey(grantId, familyId)]
      return await this.#op('isAccessTokenRevoked', async () => await this.#scripts.oidcTokenAlive(keys.length, ...keys)) === 0
    }
    const liveness: Command = familyId === undefined
      ? ['exists', this.#key('grant', grantId)]
      : ['oidcAlive', this.#key('grant', grantId), this.#familyKey(grantId, familyId)]
    const [denied, alive] = await this.#op('isAccessTokenRevoked', async () =>
      settledValues(await this.#batch([['exists', jtiKey], liveness])))
    return denied === 1 || alive === 0
  }

  // sessions ----------------------------------------------------------------------------------

  /** The session, and its id in the account's session index (which expires with its last session). */
  async saveSession (session: SessionRecord): Promise<void> {
    const at = pxat(session.expiresAt)
    await this.#op('saveSession', async () => {
      settledValues(await this.#batch([
        ['oidcIndexAdd', this.#accountSessionsKey(session.accountId), session.sessionId, at],
        ['set', this.#key('session', session.sessionId), JSON.stringify(session), 'PXAT', at],
      ]))
    })
  }

  /** One script on the session and its client set (same hash tag, so same slot). */
  async getSession (sessionId: string): Promise<SessionRecord | undefined> {
    const reply = await this.#op('getSession', async () =>
      await this.#scripts.oidcSessionGet(this.#key('session', sessionId), this.#key('session-clients', sessionId)))
    return reply === null ? undefined : sessionOf(reply[0], reply[1])
  }

  /** One script on a single Redis; on a Cluster (other slots) getSession, then findGrant. */
  async getSessionWithGrant (sessionId: string, clientId: string): Promise<SessionWithGrant | undefined> {
    if (this.#client.isCluster) return await this.#sessionThenGrant(sessionId, clientId)
    const reply = await this.#op('getSessionWithGrant', async () => await this.#scripts.oidcSessionWithGrant(
      this.#key('session', sessionId), this.#key('session-clients', sessionId), this.#prefix, clientId))
    return await this.#sessionWithGrantOf(reply, clientId)
  }

  /**
   * The client, the session and its user's grant: one script on a single Redis (one command per
   * SSO authorization where it would take two); on a Cluster (other slots) the client and
   * getSessionWithGrant side by side.
   */
  async getClientWithSession (clientId: string, sessionId: string): Promise<{ client: ClientRecord | undefined, session: SessionWithGrant | undefined }> {
    if (this.#client.isCluster) {
      const [client, session] = await Promise.all([this.getClient(clientId), this.#sessionThenGrant(sessionId, clientId)])
      return { client, session }
    }
    const [client, reply] = await this.#op('getClientWithSession', async () => await this.#scripts.oidcClientWithSession(
      this.#key('session', sessionId), this.#key('session-clients', sessionId), this.#key('client', clientId), this.#prefix, clientId))
    return { client: parse<ClientRecord>(client), session: await this.#sessionWithGrantOf(reply, clientId) }
  }

  async #sessionThenGrant (sessionId: string, clientId: string): Promise<SessionWithGrant | undefined> {
    const session = await this.getSession(sessionId)
    return session === undefined ? undefined : { session, grant: await this.findGrant(session.accountId, clientId) }
  }

  /** The session-with-grant script's reply; when an id needed escaping the grant is read now (findGrant). */
  async #sessionWithGrantOf (reply: SessionWithGrantReply, clientId: string): Promise<SessionWithGrant | undefined> {
    if (reply === null) return undefined
    const session = sessionOf(reply[0], reply[1])
    if (reply.length === 2) return { session, grant: await this.findGrant(session.accountId, clientId) }
    const grant = reply[2] === '' ? undefined : JSON.parse(reply[2]) as GrantRecord
    // As findGrant: a pointer left to a grant of another pair is no grant of this one.
    return { session, grant: grant?.accountId === session.accountId && grant.clientId === clientId ? grant : undefined }
  }

  async deleteSession (sessionId: string): Promise<void> {
    await this.#op('deleteSession', async () => {
      const previous = parse<SessionRecord>(await this.#client.getdel(this.#key('session', sessionId)))
      if (previous !== undefined) await this.#client.srem(this.#accountSessionsKey(previous.accountId), sessionId)
      await this.#client.del(this.#key('session-clients', sessionId))
    })
  }

  /** Reads the account's session index and deletes every session it lists, then the index. */
  async deleteAccountSessions (accountId: string): Promise<number> {
    return await this.#op('deleteAccountSessions', async () => {
      const indexKey = this.#accountSessionsKey(accountId)
      const sessionIds = await this.#client.smembers(indexKey)
      if (sessionIds.length === 0) return 0
      const deleted = settledValues(await this.#batch(sessionIds.map((sessionId): Command => ['del', this.#key('session', sessionId)])))
      await this.#client.srem(indexKey, ...sessionIds)
      await this.#revokeFamiliesOf(sessionIds.map((sessionId) => this.#sessionFamiliesKey(sessionId)))
      return deleted.reduce<number>((sum, count) => sum + Number(count), 0)
    })
  }

  /** One script on the session and its client set (same hash tag, so same slot). */
  async addSessionClient (sessionId: string, clientId: string): Promise<boolean> {
    return await this.#op('addSessionClient', async () =>
      await this.#scripts.oidcSessionClientAdd(this.#key('session', sessionId), this.#key('session-clients', sessionId), clientId)) === 1
  }

  async takeSession (sessionId: string): Promise<SessionRecord | undefined> {
    return await this.#op('takeSession', async () => {
      const taken = await this.#takeSession(sessionId)
      if (taken !== undefined) await this.#client.srem(this.#accountSessionsKey(taken.accountId), sessionId)
      return taken
    })
  }

  /** Reads the account's session index, takes every session it lists, then clears the index. */
  async takeAccountSessions (accountId: string): Promise<SessionRecord[]> {
    return await this.#op('takeAccountSessions', async () => {
      const indexKey = this.#accountSessionsKey(accountId)
      const sessionIds = await this.#client.smembers(indexKey)
      if (sessionIds.length === 0) return []
      const taken = await Promise.all(sessionIds.map(async (sessionId) => await this.#takeSession(sessionId)))
      await this.#client.srem(indexKey, ...sessionIds)
      return taken.filter((session): session is SessionRecord => session !== undefined)
    })
  }

  /**
   * Reads the account's session index, then its sessions: one MGET on a single Redis (every
   * login reads them, for `maxSessionsPerAccount`: one command instead of one per session); on
   * a Cluster each session is on its own slot, so separate GETs in one batch, never a
   * cross-slot MGET. Ids whose session ended are dropped from the index.
   */
  async listAccountSessions (accountId: string): Promise<SessionRecord[]> {
    return await this.#op('listAccountSessions', async () => {
      const indexKey = this.#accountSessionsKey(accountId)
      const sessionIds = await this.#client.smembers(indexKey)
      if (sessionIds.length === 0) return []
      const keys = sessionIds.map((sessionId) => this.#key('session', sessionId))
      const values: unknown[] = this.#client.isCluster
        ? settledValues(await this.#batch(keys.map((key): Command => ['get', key])))
        : await this.#client.mget(keys)
      const sessions: SessionRecord[] = []
      const gone: string[] = []
      values.forEach((value, index) => {
        const session = typeof value === 'string' ? JSON.parse(value) as SessionRecord : undefined
        if (session?.accountId === accountId) sessions.push(session)
        else gone.push(sessionIds[index] as string)
      })
      if (gone.length > 0) await this.#client.srem(indexKey, ...gone)
      return sessions
    })
  }

  /**
   * Two round trips, every few minutes per session: GET, then SET XX KEEPTTL, which writes only
   * while the key exists (a session taken meanwhile stays ended) and keeps its expiry.
   */
  async touchSession (sessionId: string, lastSeenAt: EpochSeconds): Promise<boolean> {
    return await this.#op('touchSession', async () => {
      const key = this.#key('session', sessionId)
      const session = parse<SessionRecord>(await this.#client.get(key))
      if (session === undefined) return false
      return await this.#client.set(key, JSON.stringify({ ...session, lastSeenAt }), 'KEEPTTL', 'XX') === 'OK'
    })
  }

  async #takeSession (sessionId: string): Promise<SessionRecord | undefined> {
    const reply = await this.#scripts.oidcSessionTake(this.#key('session', sessionId), this.#key('session-clients', sessionId))
    if (reply === null) return undefined
    const session = JSON.parse(reply[0]) as SessionRecord
    return { ...session, clients: reply[1] }
  }

  // interactions ------------------------------------------------------------------------------

  async saveInteraction (interaction: InteractionRecord): Promise<void> {
    await this.#op('saveInteraction', async () =>
      await this.#client.set(this.#key('interaction', interaction.interactionId), JSON.stringify(interaction), 'PXAT', pxat(interaction.expiresAt)))
  }

  async getInteraction (interactionId: string): Promise<InteractionRecord | undefined> {
    return parse(await this.#op('getInteraction', async () => await this.#client.get(this.#key('interaction', interactionId))))
  }

  /** GETDEL is atomic on its own: one caller gets the value, the others nil. No tombstone needed. */
  async consumeInteraction (interactionId: string): Promise<InteractionRecord | undefined> {
    return parse(await this.#op('consumeInteraction', async () => await this.#client.getdel(this.#key('interaction', interactionId))))
  }

  // replay and counters -----------------------------------------------------------------------

  /** SET NX with the expiry: atomic, one caller gets OK. */
  async markUsed (key: string, expiresAt: EpochSeconds): Promise<boolean> {
    return await this.#op('markUsed', async () =>
      await this.#client.set(this.#key('used', key), '1', 'PXAT', pxat(expiresAt), 'NX')) === 'OK'
  }

  async incrementCounter (key: string, windowSeconds: number): Promise<{ count: number, resetAt: EpochSeconds }> {
    const window = Math.max(1, Math.ceil(windowSeconds))
    const [count, endsAtMs] = await this.#op('incrementCounter', async () =>
      await this.#scripts.oidcCounterIncrement(this.#key('counter', key), window))
    return { count, resetAt: Math.ceil(endsAtMs / 1000) }
  }

  async getCounter (key: string): Promise<{ count: number, resetAt: EpochSeconds } | undefined> {
    return counterOf(await this.#op('getCounter', async () => await this.#scripts.oidcCounterRead(this.#key('counter', key))))
  }

  /** One script on a single Redis (the keys hash to different slots); one round trip on a Cluster. */
  async getCounters (keys: readonly string[]): Promise<Array<{ count: number, resetAt: EpochSeconds } | undefined>> {
    const redisKeys = keys.map((key) => this.#key('counter', key))
    const replies = await this.#op('getCounters', async () => this.#client.isCluster
      ? settledValues(await this.#batch(redisKeys.map((key): Command => ['oidcCounterRead', key]))) as Array<[number, number] | null>
      : await this.#scripts.oidcCountersRead(redisKeys.length, ...redisKeys))
    return replies.map(counterOf)
  }

  /** One script on a single Redis; on a Cluster (other slots) the two reads side by side. */
  async getClientWithCounters (clientId: string, keys: readonly string[]): Promise<{ client: ClientRecord | undefined, counters: Array<{ count: number, resetAt: EpochSeconds } | undefined> }> {
    if (this.#client.isCluster) {
      const [client, counters] = await Promise.all([this.getClient(clientId), this.getCounters(keys)])
      return { client, counters }
    }
    const redisKeys = [this.#key('client', clientId), ...keys.map((key) => this.#key('counter', key))]
    const [client, ...counters] = await this.#op('getClientWithCounters', async () =>
      await this.#scripts.oidcClientWithCounters(redisKeys.length, ...redisKeys))
    return {
      client: parse<ClientRecord>(client ?? null),
      counters: counters.map(counterOf),
    }
  }

  async resetCounter (key: string): Promise<void> {
    await this.#op('resetCounter', async () => await this.#client.del(this.#key('counter', key)))
  }

  // device authorizations: RFC 8628 ------------------------------------------------------------

  /**
   * The user-code index (`device-user:{userCodeHash}` → device code hash) and the record
   * (`device:{deviceCodeHash}`, a hash) live in unrelated slots: the index is claimed with
   * SET NX and the record written in the same round trip; a caller that lost the NX deletes
   * the record it wrote, which nobody can find (no index points at it).
   */
  async createDeviceAuthorization (deviceCodeHash: string, record: DeviceAuthorizationRecord): Promise<boolean> {
    const deviceKey = this.#key('device', deviceCodeHash)
    return await this.#op('createDeviceAuthorization', async () => {
      const [claimed, written] = await this.#batch([
        ['set', this.#key('device-user', record.userCodeHash), deviceCodeHash, 'PXAT', pxat(record.expiresAt), 'NX'],
        ['oidcDeviceCreate', deviceKey, JSON.stringify(record), record.clientId, record.interval, pxat(record.codeExpiresAt), pxat(record.expiresAt)],
      ])
      if (claimed?.[0] !== null || claimed[1] !== 'OK') {
        await this.#client.del(deviceKey).catch(() => {})
        if (claimed?.[0] !== null && claimed?.[0] !== undefined) throw claimed[0]
        return false
      }
      if (written?.[0] !== null && written?.[0] !== undefined) throw written[0]
      return true
    })
  }

  /** Two reads (the index, then the record): they are in different slots. */
  async findDeviceAuthorization (userCodeHash: string): Promise<{ deviceCodeHash: string, record: DeviceAuthorizationRecord, status: DeviceAuthorizationStatus } | undefined> {
    return await this.#op('findDeviceAuthorization', async () => {
      const deviceCodeHash = await this.#client.get(this.#key('device-user', userCodeHash))
      if (deviceCodeHash === null) return undefined
      const [json, status] = await this.#client.hmget(this.#key('device', deviceCodeHash), 'r', 's')
      if (json === null || json === undefined || status === null || status === undefined) return undefined
      return { deviceCodeHash, record: JSON.parse(json) as DeviceAuthorizationRecord, status: deviceStatuses[status] ?? 'consumed' }
    })
  }

  async decideDeviceAuthorization (deviceCodeHash: string, decision: { approved: DeviceApproval } | { denied: true }): Promise<boolean> {
    const [status, approval] = 'approved' in decision ? ['a' as const, JSON.stringify(decision.approved)] : ['d' as const, '']
    return await this.#op('decideDeviceAuthorization', async () =>
      await this.#scripts.oidcDeviceDecide(this.#key('device', deviceCodeHash), status, approval)) === 1
  }

  async pollDeviceAuthorization (deviceCodeHash: string, clientId: string): Promise<DevicePollResult> {
    const reply = await this.#op('pollDeviceAuthorization', async () =>
      await this.#scripts.oidcDevicePoll(this.#key('device', deviceCodeHash), clientId))
    const [status, first, second] = reply
    switch (status) {
      case 'approved':
        return { status, record: JSON.parse(String(first)) as DeviceAuthorizationRecord, approval: JSON.parse(String(second)) as DeviceApproval }
      case 'pending':
      case 'slow_down':
        return { status, interval: Number(first) }
      case 'denied':
      case 'consumed':
      case 'expired':
        return { status }
      default:
        return { status: 'not_found' }
    }
  }

  // plumbing ----------------------------------------------------------------------------------

  /**
   * `prefix + kind + ':{' + id + '}'`. The id is the hash tag, so the slot depends on the id and
   * not on the prefix; `%`, `{`, `}` and `:` in ids are percent-escaped so an id (a client_id
   * chosen at registration, an account id) can neither pick its own hash tag nor collide with
   * another kind's key.
   */
  #key (kind: string, id: string): string {
    return `${this.#prefix}${kind}:{${escapeKeyPart(id)}}`
  }

  #pairKey (accountId: string, clientId: string): string {
    return `${this.#prefix}grant-pair:{${escapeKeyPart(accountId)}:${escapeKeyPart(clientId)}}`
  }

  /** `prefix family:<familyId>:{grantId}`: beside its grant, in the grant's slot. */
  #familyKey (grantId: string, familyId: string): string {
    return `${this.#prefix}family:${escapeKeyPart(familyId)}:{${escapeKeyPart(grantId)}}`
  }

  /** `prefix rt:<tokenHash>:{grantId}`: a family's refresh token, in its grant's slot. */
  #familyTokenKey (grantId: string, tokenHash: string): string {
    return `${this.#prefix}rt:${escapeKeyPart(tokenHash)}:{${escapeKeyPart(grantId)}}`
  }

  #sessionFamiliesKey (sessionId: string): string {
    return this.#key('session-families', sessionId)
  }

  /** The families token exchanges started for the client under other clients' grants. */
  #clientFamiliesKey (clientId: string): string {
    return this.#key('client-families', clientId)
  }

  #accountSessionsKey (accountId: string): string {
    return this.#key('account-sessions', accountId)
  }

  /** Every stored client's id (clients never expire, nor does their index). */
  #clientsIndexKey (): string {
    return this.#key('clients', 'index')
  }

  #accountIndexKey (accountId: string): string {
    return this.#key('account-grants', accountId)
  }

  #clientIndexKey (clientId: string): string {
    return this.#key('client-grants', clientId)
  }

  /**
   * Runs one store operation against Redis, bounded in time. A connection error, a Redis error
   * or no answer within `operationTimeoutMs` becomes `StoreUnavailableError` with the cause
   * attached, so the endpoint answers 503 and the request never hangs. The store keeps no
   * state about the outage: the next call simply tries again on ioredis' reconnected socket.
   */
  async #op<T> (operation: string, run: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new StoreUnavailableError(`redis store: ${operation} did not complete within ${this.#timeoutMs} ms`))
      }, this.#timeoutMs)
    })
    try {
      return await Promise.race([run(), timedOut])
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error
      throw new StoreUnavailableError(`redis store: ${operation} failed`, { cause: error })
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Sends independent single-key commands in one round trip and reports each result. On one
   * Redis they travel as one pipeline and run in order. On a Cluster a pipeline may only target
   * one node and these keys hash to unrelated slots, so each command goes to its node at the
   * same time: still one round trip of latency, with no order between nodes. Never atomic as a
   * whole; callers only batch commands that are each atomic and correct in any order.
   */
  async #batch (commands: Command[]): Promise<Settled[]> {
    if (!this.#client.isCluster) {
      const results = await this.#client.pipeline(commands).exec()
      if (results === null) throw new Error('the pipeline was discarded')
      return results
    }
    const cluster = this.#client as unknown as Record<string, ((...args: Arg[]) => Promise<unknown>) | undefined>
    return await Promise.all(commands.map(async ([name, ...args]): Promise<Settled> => {
      try {
        const command = cluster[name]
        if (command === undefined) throw new Error(`unknown command ${name}`)
        return [null, await command.apply(this.#client, args)]
      } catch (error) {
        return [error instanceof Error ? error : new Error(String(error)), null]
      }
    }))
  }
}

/** Defines the scripts on the client once: several stores may share one host-owned client. */
function defineScripts (client: Redis | Cluster): void {
  const commands = client as unknown as Record<string, unknown>
  for (const [name, definition] of Object.entries(scripts)) {
    if (typeof commands[name] !== 'function') client.defineCommand(name, definition)
  }
}

/** The replies of a batch, or the first error (the operation then fails as a whole). */
function settledValues (results: Settled[]): unknown[] {
  const failed = results.find(([error]) => error !== null)
  if (failed?.[0] !== null && failed?.[0] !== undefined) throw failed[0]
  return results.map(([, value]) => value)
}

/** A grant and its live families as `oidcGrantActivity` returns them. */
function replyActivity ([grantJson, ...families]: string[]): GrantActivity {
  const live: Array<{ record: RefreshFamilyRecord, rotatedAt: EpochSeconds | undefined }> = []
  for (let index = 0; index + 1 < families.length; index += 2) {
    const rotatedAtMs = families[index + 1]
    live.push({
      record: JSON.parse(families[index] ?? '{}') as RefreshFamilyRecord,
      rotatedAt: rotatedAtMs === '' || rotatedAtMs === undefined ? undefined : Math.floor(Number(rotatedAtMs) / 1000),
    })
  }
  return grantActivity(JSON.parse(grantJson ?? '{}') as GrantRecord, live)
}

/** A family's entry in its session's index. */
function familyMember (family: RefreshFamilyRecord): string {
  return `${family.grantId}\n${family.familyId}`
}

function escapeKeyPart (id: string): string {
  return id.replace(keyUnsafe, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** `expiresAt` (seconds) as a PXAT argument; a time in the past makes Redis drop the key at once. */
function pxat (expiresAt: EpochSeconds): number {
  return Math.max(1, Math.floor(expiresAt * 1000))
}

/** A session as its record and its clients' set come back from Redis (getSession's shape). */
function sessionOf (json: string, clients: string[]): SessionRecord {
  const session = JSON.parse(json) as SessionRecord
  return clients.length === 0 ? session : { ...session, clients }
}

/** A counter script's reply ([count, window end in ms] or null) as the contract's counter. */
function counterOf (reply: [number, number] | null): { count: number, resetAt: EpochSeconds } | undefined {
  return reply === null ? undefined : { count: reply[0], resetAt: Math.ceil(reply[1] / 1000) }
}

function parse<T> (json: string | null): T | undefined {
  return json === null ? undefined : JSON.parse(json) as T
}

/** A single-use record as stored: status byte (`a` active, `c` consumed) + JSON. */
function active (record: object): string {
  return `a${JSON.stringify(record)}`
}

function decodeSingleUse<T> (value: string): { consumed: boolean, record: T } {
  return { consumed: value.startsWith('c'), record: JSON.parse(value.slice(1)) as T }
}

/** The consume script's reply (the value before consuming) as the contract's result. */
function consumeResult<T extends { grantId: string }> (value: string | null): ConsumeResult<T> {
  if (value === null) return { status: 'not_found' }
  const { consumed, record } = decodeSingleUse<T>(value)
  return consumed ? { status: 'already_consumed', grantId: record.grantId } : { status: 'consumed', record }
}
