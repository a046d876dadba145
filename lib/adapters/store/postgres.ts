import { StoreUnavailableError } from '../../contracts/errors.js'
import type {
  AuthorizationCodeRecord,
  ClientRecord,
  AccountGrantsPage,
  ClientPage,
  ClientsPage,
  CodeConsumeResult,
  ConsumeResult,
  DeviceApproval,
  DeviceAuthorizationRecord,
  DeviceAuthorizationStatus,
  DevicePollResult,
  EpochSeconds,
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
import type { PasskeyStore, StoredPasskey } from '../../contracts/passkeys.js'
import { grantActivity } from './grant-activity.js'
import { loadMigrations, migrateSchema, type PostgresMigration } from './postgres-migrate.js'
import { connectionLost, createPool, type PostgresPool, type PostgresPoolClient } from './postgres-pool.js'
import { counterStatements, expiringTables, maxCounterKeys, quoteIdentifier, statements, sweepStatement, type StatementName } from './postgres-sql.js'

export type { PostgresMigration } from './postgres-migrate.js'
export type { PostgresPool, PostgresPoolClient } from './postgres-pool.js'

export interface PostgresStoreOptions {
  /**
   * A node-postgres (`pg`) `Pool` the host owns (it ends it; `close()` does not). Give either
   * `pool` or `connectionString`. Set `statement_timeout` on it (see `statementTimeoutMs`).
   */
  pool?: PostgresPool
  /**
   * `postgres://user:password@host:5432/database`: the store creates (and `close()` ends) its
   * own pool, loading `pg` only then. Its connections carry `statement_timeout`.
   */
  connectionString?: string
  /** Further settings of the store's own pool (`max`, `ssl`, ...), with `connectionString`. */
  poolConfig?: Record<string, unknown>
  /** The schema holding the store's tables, created by the migrations. Default `oidc`. */
  schema?: string
  /**
   * Applies the shipped migrations when the provider registers (`init()`). Default false: a
   * deploy step runs `await store.migrate()` (or the host's own migration tool runs the SQL).
   */
  migrate?: boolean
  /**
   * The server-side bound of one statement, in milliseconds: the store's own pool sets it as
   * `statement_timeout` (a statement past it is cancelled and rolled back by PostgreSQL, so it
   * never takes effect after the provider answered 503) and as its connection timeout. With a
   * host `pool`, set `statement_timeout` on that pool to at most this. Default 2000.
   */
  statementTimeoutMs?: number
  /**
   * The provider-side bound of one operation (waiting for a connection included), in
   * milliseconds: past it the operation throws `StoreUnavailableError` (endpoints answer 503) and
   * its connection is closed. It covers what `statement_timeout` cannot: a database that does not
   * answer at all (down, unreachable, a network that holds the packets). Default
   * `statementTimeoutMs + 500`, so that a statement the server is running is cancelled by the
   * server first.
   */
  operationTimeoutMs?: number
  /** How often expired rows are deleted, in milliseconds; 0 turns the sweeper off. Default 60 000. */
  sweepIntervalMs?: number
  /** Rows deleted per statement by the sweeper (it repeats while a batch comes back full). Default 1000. */
  sweepBatchSize?: number
  /** Called with errors of background work (the sweeper, idle connections of the store's own pool). */
  onError?: (error: Error) => void
}

type Row = Record<string, unknown>

/** Most sweep rounds per table and tick: a backlog is worked off over several ticks. */
const maxSweepRounds = 10

/**
 * The store on PostgreSQL through node-postgres (`pg`, an optional peer dependency, loaded only
 * when the store makes its own pool): durable clients, grants, sessions and tokens in the
 * database a team already backs up. Several provider instances share one database and schema.
 *
 * - Every operation is ONE statement, atomic on its own: single-use records are taken by
 *   `UPDATE … WHERE NOT consumed RETURNING` or `DELETE … RETURNING` (of N concurrent callers in
 *   any number of processes exactly one wins; consumed codes and refresh tokens stay as
 *   tombstones until they expire), and a refresh rotation is one call of the
 *   `rotate_refresh_token` function, which locks the family's row. The clock of expiry checks
 *   and of the grace window is the database's.
 * - Expired rows are invisible at once (every read tests `expires_at > now()`) and deleted in
 *   bounded batches by a sweeper (an indexed `DELETE`, unref'd timer, stopped by `close()`).
 * - A statement past `statementTimeoutMs` (cancelled by the server), or an operation past
 *   `operationTimeoutMs` (a database down or unreachable), throws `StoreUnavailableError`:
 *   endpoints answer 503 `temporarily_unavailable`, readiness reports it, and the pool
 *   reconnects by itself once the database answers again.
 * - Statements are schema-qualified, named prepared statements; the host's `search_path` and
 *   other tables are never touched.
 *
 * @example
 * import pg from 'pg'
 * import { oidcProvider, PostgresStore } from 'fastify-oidc-provider'
 *
 * const pool = new Pg({ connectionString: process.env.DATABASE_URL, statement_timeout: 2000 })
 * pool.on('error', (err) => app.log.warn({ err }, 'postgres'))
 * const store = new PostgresStore({ pool, schema: 'oidc', migrate: true })
 * await app.register(oidcProvider, { issuer, store })
 * app.addHook('onClose', async () => { await store.close(); await pool.end() })
 */
export class PostgresStore implements Store {
  readonly #schema: string
  readonly #sql: ReturnType<typeof statements>
  /** `counterStatements` by key count, built on first use (at most `maxCounterKeys` entries). */
  readonly #counterSql = new Map<number, ReturnType<typeof counterStatements>>()
  readonly #sweeps: string[]
  /** Prepared-statement names are per connection: the schema's hash keeps two stores apart. */
  readonly #namePrefix: string
  readonly #timeoutMs: number
  readonly #migrateAtInit: boolean
  readonly #sweepBatch: number
  readonly #onError: (error: Error) => void
  readonly #ownsPool: boolean
  #pool: PostgresPool | Promise<PostgresPool>
  #sweeper: NodeJS.Timeout | undefined
  #sweeping: Promise<unknown> | undefined
  #closed = false

  constructor (options: PostgresStoreOptions) {
    const {
      pool, connectionString, poolConfig = {}, schema = 'oidc', migrate = false,
      statementTimeoutMs = 2000, operationTimeoutMs = statementTimeoutMs + 500, sweepIntervalMs = 60_000, sweepBatchSize = 1000, onError = () => {},
    } = options ?? {}
    if ((pool === undefined) === (connectionString === undefined)) {
      throw new TypeError('PostgresStore: give exactly one of the options "pool" (a pg Pool) and "connectionString"')
    }
    if (pool !== undefined && (pool === null || typeof pool.connect !== 'function')) {
      throw new TypeError('PostgresStore: option "pool" must be a pg Pool')
    }
    if (connectionString !== undefined && (typeof connectionString !== 'string' || connectionString === '')) {
      throw new TypeError('PostgresStore: option "connectionString" must be a postgres:// URL')
    }
    // 63 bytes is PostgreSQL's identifier limit (NAMEDATALEN - 1); longer names are cut silently.
    if (typeof schema !== 'string' || schema === '' || Buffer.byteLength(schema) > 63 || schema.includes('\0')) {
      throw new TypeError('PostgresStore: option "schema" must be a name of 1 to 63 bytes')
    }
    for (const [name, value, min] of [['statementTimeoutMs', statementTimeoutMs, 1], ['operationTimeoutMs', operationTimeoutMs, 1], ['sweepIntervalMs', sweepIntervalMs, 0], ['sweepBatchSize', sweepBatchSize, 1]] as const) {
      if (!Number.isInteger(value) || value < min) throw new TypeError(`PostgresStore: option "${name}" must be an integer of at least ${min}`)
    }
    this.#schema = schema
    const s = quoteIdentifier(schema)
    this.#sql = statements(s)
    this.#sweeps = expiringTables.map((table) => sweepStatement(s, table))
    this.#namePrefix = `fop_${fnv1a(schema)}_`
    this.#timeoutMs = operationTimeoutMs
    this.#migrateAtInit = migrate
    this.#sweepBatch = sweepBatchSize
    this.#onError = onError
    this.#ownsPool = pool === undefined
    this.#pool = pool ?? createPool(connectionString as string, poolConfig, statementTimeoutMs, (error) => this.#onError(error))
    // An import failure (pg missing) is reported by the first operation, not as an unhandled rejection.
    if (this.#pool instanceof Promise) this.#pool.catch(() => {})
    if (sweepIntervalMs > 0) {
      this.#sweeper = setInterval(() => { this.#sweepInBackground() }, sweepIntervalMs)
      // The sweeper must never keep a process (a test, a CLI) alive.
      this.#sweeper.unref()
    }
  }

  /** The shipped migrations (version, name, SQL), for hosts that run them with their own tool. */
  static async migrations (): Promise<PostgresMigration[]> {
    return await loadMigrations()
  }

  /**
   * Applies the shipped migrations the schema lacks (creating the schema first), each in one
   * transaction under an advisory lock, so instances starting together migrate once. Resolves
   * the versions this call applied.
   */
  async migrate (): Promise<number[]> {
    return await migrateSchema(await this.#resolvePool(), this.#schema)
  }

  /**
   * The passkeys of the `passkeys` option kept in this store's schema and pool (migration 003):
   * each method one statement; `recordPasskeyUse` a guarded UPDATE on the counter column.
   *
   * @example
   * const store = new PostgresStore({ connectionString, migrate: true })
   * await app.register(oidcProvider, { issuer, store, passkeys: { store: store.passkeyStore() } })
   */
  passkeyStore (): PasskeyStore {
    return {
      createPasskey: async (passkey) => await this.#first('createPasskey', [passkey.credentialId, passkey.accountId, JSON.stringify(passkey), passkey.counter]) !== undefined,
      findPasskey: async (credentialId) => (await this.#first('findPasskey', [credentialId]))?.record as StoredPasskey | undefined,
      listPasskeys: async (accountId) => (await this.#query('listPasskeys', [accountId])).map((row) => row.record as StoredPasskey),
      recordPasskeyUse: async (credentialId, use) => await this.#first('recordPasskeyUse', [credentialId, use.previousCounter, use.counter, use.backedUp, use.usedAt]) !== undefined,
      renamePasskey: async (accountId, credentialId, name) => await this.#first('renamePasskey', [accountId, credentialId, name]) !== undefined,
      deletePasskey: async (accountId, credentialId) => await this.#first('deletePasskey', [accountId, credentialId]) !== undefined,
    }
  }

  /** Awaited by the provider at `register`: migrates when the `migrate` option asks for it. */
  async init (): Promise<void> {
    if (this.#migrateAtInit) await this.migrate()
  }

  /** Stops the sweeper; ends the pool when the store created it (a host's pool is left alone). */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#sweeper)
    await this.#sweeping?.catch(() => {})
    if (this.#ownsPool) await (await this.#resolvePool().catch(() => undefined))?.end()
  }

  /** `SELECT 1`, bounded by `operationTimeoutMs` like every operation. */
  async ping (): Promise<void> {
    await this.#query('ping', [])
  }

  /**
   * Deletes expired rows of every table, `sweepBatchSize` at a time (rows another instance is
   * deleting are skipped), until a batch comes back short. Runs on the timer; exposed for tests.
   * Resolves how many rows it deleted.
   */
  async sweep (): Promise<number> {
    let deleted = 0
    for (const [index, text] of this.#sweeps.entries()) {
      for (let round = 0; round < maxSweepRounds; round++) {
        const result = await this.#execute(`sweep_${expiringTables[index] ?? index}`, text, [this.#sweepBatch])
        deleted += result.rowCount
        if (result.rowCount < this.#sweepBatch) break
      }
    }
    return deleted
  }

  // clients: never expire ----------------------------------------------------------------------

  async getClient (clientId: string): Promise<ClientRecord | undefined> {
    return (await this.#first('getClient', [clientId]))?.record as ClientRecord | undefined
  }

  async saveClient (client: ClientRecord): Promise<void> {
    await this.#query('saveClient', [client.client_id, JSON.stringify(client)])
  }

  async deleteClient (clientId: string): Promise<boolean> {
    return (await this.#execute('deleteClient', this.#sql.deleteClient, [clientId])).rowCount === 1
  }

  async updateClientIfExists (client: ClientRecord): Promise<boolean> {
    return (await this.#execute('updateClientIfExists', this.#sql.updateClientIfExists, [client.client_id, JSON.stringify(client)])).rowCount === 1
  }

  // codes: RFC 6749 §4.1.2 (single use), §10.5 --------------------------------------------------

  async saveCode (codeHash: string, record: AuthorizationCodeRecord): Promise<void> {
    await this.#query('saveCode', [codeHash, record.grantId, JSON.stringify(record), record.expiresAt])
  }

  async saveCodeOnce (codeHash: string, record: AuthorizationCodeRecord, usedKey: string, usedUntil: EpochSeconds): Promise<boolean> {
    return (await this.#first('saveCodeOnce', [codeHash, record.grantId, JSON.stringify(record), record.expiresAt, usedKey, usedUntil]))?.saved === 1
  }

  async consumeCode (codeHash: string): Promise<CodeConsumeResult> {
    const row = await this.#first('consumeCode', [codeHash])
    const result = consumeResult<AuthorizationCodeRecord>(row)
    return result.status === 'consumed' ? { ...result, grant: (row?.grant_record ?? null) as GrantRecord | null } : result
  }

  // refresh tokens from before families: RFC 6749 §6 ----------------------------------------------

  async saveRefreshToken (tokenHash: string, record: RefreshTokenRecord): Promise<void> {
    await this.#query('saveRefreshToken', [tokenHash, record.grantId, JSON.stringify(record), record.expiresAt])
  }

  async findRefreshToken (tokenHash: string): Promise<RefreshTokenState | undefined> {
    const row = await this.#first('findRefreshToken', [tokenHash])
    if (row === undefined) return undefined
    return { status: row.consumed === true ? 'consumed' : 'active', record: row.record as RefreshTokenRecord }
  }

  /** One statement: the winner's consume and its replacement, or nothing. */
  async consumeRefreshToken (
    tokenHash: string,
    replacement?: { tokenHash: string, record: RefreshTokenRecord }
  ): Promise<ConsumeResult<RefreshTokenRecord>> {
    return consumeResult(await this.#first('consumeRefreshToken', [
      tokenHash,
      replacement?.tokenHash ?? null,
      replacement?.record.grantId ?? null,
      replacement === undefined ? null : JSON.stringify(replacement.record),
      replacement?.record.expiresAt ?? null,
    ]))
  }

  // grants ------------------------------------------------------------------------------------

  async saveGrant (grant: GrantRecord): Promise<void> {
    await this.#query('saveGrant', [grant.grantId, grant.accountId, grant.clientId, JSON.stringify(grant), grant.expiresAt])
  }

  async getGrant (grantId: string): Promise<GrantRecord | undefined> {
    return (await this.#first('getGrant', [grantId]))?.record as GrantRecord | undefined
  }

  async findGrant (accountId: string, clientId: string): Promise<GrantRecord | undefined> {
    return (await this.#first('findGrant', [accountId, clientId]))?.record as GrantRecord | undefined
  }

  /** One DELETE: everything issued under the grant dies with it (grant liveness). */
  async revokeGrant (grantId: string): Promise<boolean> {
    return await this.#count('revokeGrant', [grantId]) > 0
  }

  async revokeAccountGrants (accountId: string): Promise<number> {
    return await this.#count('revokeAccountGrants', [accountId])
  }

  async revokeClientGrants (clientId: string): Promise<number> {
    return await this.#count('revokeClientGrants', [clientId])
  }

  async extendGrant (grantId: string, expiresAt: EpochSeconds): Promise<boolean> {
    return await this.#first('extendGrant', [grantId, Math.floor(expiresAt)]) !== undefined
  }

  // refresh-token families: RFC 9700 §4.14.2 -------------------------------------------------

  async startRefreshFamily (family: RefreshFamilyRecord, first?: FamilyTokenRecord): Promise<boolean> {
    // Only a family that ends with its session and has refresh tokens is indexed by session.
    const sessionId = family.sessionId !== undefined && !family.offline && first !== undefined ? family.sessionId : null
    return await this.#count('startRefreshFamily', [
      family.grantId, family.familyId, family.clientId, family.scope, sessionId, JSON.stringify(family),
      first?.tokenHash ?? null, family.expiresAt, first?.issuedAt ?? null, first?.expiresAt ?? null,
    ]) === 1
  }

  /** One call of the schema's `rotate_refresh_token` function (see the migration). */
  async rotateRefreshToken (rotation: RefreshRotation): Promise<RotationResult> {
    const row = await this.#first('rotateRefreshToken', [
      rotation.grantId,
      rotation.familyId,
      rotation.tokenHash,
      rotation.clientId,
      rotation.scope ?? null,
      Math.max(0, Math.floor(rotation.graceSeconds * 1000)),
      rotation.successor.tokenHash,
      Math.max(1, Math.floor(rotation.successor.lifetimeSeconds)),
      rotation.successor.sealed,
    ])
    const family = row?.record as RefreshFamilyRecord
    switch (row?.status) {
      case 'rotated':
        return {
          status: 'rotated',
          family,
          successor: { tokenHash: rotation.successor.tokenHash, issuedAt: Number(row.issued_at), expiresAt: Number(row.expires_at) },
          grantExpiresAt: Number(row.grant_expires_at),
        }
      case 'retried':
        return { status: 'retried', family, sealed: String(row.detail), scope: typeof row.request_scope === 'string' ? row.request_scope : undefined }
      case 'reused': return { status: 'reused', family }
      case 'wrong_client': return { status: 'wrong_client' }
      case 'invalid_scope': return { status: 'invalid_scope', scope: String(row.detail) }
      default: return { status: 'not_found' }
    }
  }

  async findFamilyRefreshToken (grantId: string, familyId: string, tokenHash: string): Promise<{ family: RefreshFamilyRecord, token: FamilyTokenRecord } | undefined> {
    const row = await this.#first('findFamilyRefreshToken', [grantId, familyId, tokenHash])
    if (row === undefined) return undefined
    return {
      family: row.record as RefreshFamilyRecord,
      token: { tokenHash, issuedAt: Number(row.issued_at), expiresAt: Math.round(Number(row.expires_at)) },
    }
  }

  async revokeRefreshFamily (grantId: string, familyId: string, tombstoneUntil: EpochSeconds): Promise<boolean> {
    return (await this.#first('revokeRefreshFamily', [grantId, familyId, tombstoneUntil]))?.revoked === true
  }

  async revokeSessionFamilies (sessionId: string): Promise<number> {
    return await this.#count('revokeSessionFamilies', [sessionId])
  }

  // access tokens: RFC 7009 §2, RFC 9068 -------------------------------------------------------

  async revokeAccessToken (jti: string, expiresAt: EpochSeconds): Promise<void> {
    await this.#query('revokeAccessToken', [jti, expiresAt])
  }

  /** One statement: deny-list, grant and (when named) family. */
  async isAccessTokenRevoked (jti: string, grantId: string | undefined, familyId?: string): Promise<boolean> {
    return (await this.#first('isAccessTokenRevoked', [jti, grantId ?? null, familyId ?? null]))?.revoked === true
  }

  // sessions ----------------------------------------------------------------------------------

  async saveSession (session: SessionRecord): Promise<void> {
    const { clients: _recordedElsewhere, ...record } = session
    await this.#query('saveSession', [session.sessionId, session.accountId, JSON.stringify(record), session.expiresAt])
  }

  async getSession (sessionId: string): Promise<SessionRecord | undefined> {
    const row = await this.#first('getSession', [sessionId])
    return row === undefined ? undefined : sessionOf(row)
  }

  async getSessionWithGrant (sessionId: string, clientId: string): Promise<{ session: SessionRecord, grant: GrantRecord | undefined } | undefined> {
    const row = await this.#first('getSessionWithGrant', [sessionId, clientId])
    if (row === undefined) return undefined
    return { session: sessionOf(row), grant: (row.grant_record ?? undefined) as GrantRecord | undefined }
  }

  async getClientWithSession (clientId: string, sessionId: string): Promise<{ client: ClientRecord | undefined, session: { session: SessionRecord, grant: GrantRecord | undefined } | undefined }> {
    const row = await this.#first('getClientWithSession', [sessionId, clientId])
    const client = (row?.client ?? undefined) as ClientRecord | undefined
    if (row === undefined || row.record === null) return { client, session: undefined }
    return { client, session: { session: sessionOf(row), grant: (row.grant_record ?? undefined) as GrantRecord | undefined } }
  }

  async deleteSession (sessionId: string): Promise<void> {
    await this.#query('deleteSession', [sessionId])
  }

  /** One statement: the sessions, and the families without offline_access they were issued in. */
  async deleteAccountSessions (accountId: string): Promise<number> {
    return await this.#count('deleteAccountSessions', [accountId])
  }

  async addSessionClient (sessionId: string, clientId: string): Promise<boolean> {
    return await this.#first('addSessionClient', [sessionId, clientId]) !== undefined
  }

  /** DELETE … RETURNING: one of concurrent callers gets the session and its clients. */
  async takeSession (sessionId: string): Promise<SessionRecord | undefined> {
    const [row] = (await this.#query('takeSession', [sessionId])).filter((taken) => taken.live === true)
    return row === undefined ? undefined : { ...row.record as SessionRecord, clients: row.clients as string[] }
  }

  async listAccountSessions (accountId: string): Promise<SessionRecord[]> {
    return (await this.#query('listAccountSessions', [accountId])).map((row) => row.record as SessionRecord)
  }

  /** One guarded UPDATE: only a live session gets its `lastSeenAt`. */
  async touchSession (sessionId: string, lastSeenAt: EpochSeconds): Promise<boolean> {
    return await this.#first('touchSession', [sessionId, lastSeenAt]) !== undefined
  }

  async takeAccountSessions (accountId: string): Promise<SessionRecord[]> {
    const rows = await this.#query('takeAccountSessions', [accountId])
    return rows.filter((row) => row.live === true).map((row) => ({ ...row.record as SessionRecord, clients: row.clients as string[] }))
  }

  // interactions ------------------------------------------------------------------------------

  async saveInteraction (interaction: InteractionRecord): Promise<void> {
    await this.#query('saveInteraction', [interaction.interactionId, JSON.stringify(interaction), interaction.expiresAt])
  }

  async getInteraction (interactionId: string): Promise<InteractionRecord | undefined> {
    return (await this.#first('getInteraction', [interactionId]))?.record as InteractionRecord | undefined
  }

  async consumeInteraction (interactionId: string): Promise<InteractionRecord | undefined> {
    const row = await this.#first('consumeInteraction', [interactionId])
    return row?.live === true ? row.record as InteractionRecord : undefined
  }

  // replay and counters -----------------------------------------------------------------------

  // lists: the admin's clients, an account's connected apps ----------------------------------------

  async listClients (page: ClientPage): Promise<ClientsPage> {
    const rows = await this.#query('listClients', [page.after ?? null, page.limit])
    const clients = rows.slice(0, page.limit).map((row) => row.record as ClientRecord)
    const last = clients.at(-1)
    return rows.length > page.limit && last !== undefined ? { clients, next: last.client_id } : { clients }
  }

  async listAccountGrants (accountId: string, page: GrantPage): Promise<AccountGrantsPage> {
    const rows = await this.#query('listAccountGrants', [accountId, page.after ?? null, page.limit])
    const grants: GrantActivity[] = rows.slice(0, page.limit).map((row) => grantActivity(row.record as GrantRecord,
      (row.families as Array<{ record: RefreshFamilyRecord, rotatedAt: number | null }>).map(({ record, rotatedAt }) => ({ record, rotatedAt: rotatedAt === null ? undefined : Number(rotatedAt) }))))
    const last = grants.at(-1)
    return rows.length > page.limit && last !== undefined ? { grants, next: last.grantId } : { grants }
  }

  // device authorizations: RFC 8628 ------------------------------------------------------------

  async createDeviceAuthorization (deviceCodeHash: string, record: DeviceAuthorizationRecord): Promise<boolean> {
    return await this.#first('createDeviceAuthorization', [
      deviceCodeHash, record.userCodeHash, record.clientId, JSON.stringify(record), record.interval, record.codeExpiresAt, record.expiresAt,
    ]) !== undefined
  }

  async findDeviceAuthorization (userCodeHash: string): Promise<{ deviceCodeHash: string, record: DeviceAuthorizationRecord, status: DeviceAuthorizationStatus } | undefined> {
    const row = await this.#first('findDeviceAuthorization', [userCodeHash])
    if (row === undefined) return undefined
    return { deviceCodeHash: String(row.device_code_hash), record: row.record as DeviceAuthorizationRecord, status: row.status as DeviceAuthorizationStatus }
  }

  async decideDeviceAuthorization (deviceCodeHash: string, decision: { approved: DeviceApproval } | { denied: true }): Promise<boolean> {
    const approved = 'approved' in decision
    return await this.#first('decideDeviceAuthorization', [
      deviceCodeHash, approved ? 'approved' : 'denied', approved ? JSON.stringify(decision.approved) : null,
    ]) !== undefined
  }

  async pollDeviceAuthorization (deviceCodeHash: string, clientId: string): Promise<DevicePollResult> {
    const row = await this.#first('pollDeviceAuthorization', [deviceCodeHash, clientId])
    if (row === undefined) return { status: 'not_found' }
    if (row.live !== true) return { status: 'expired' }
    const interval = Number(row.interval_seconds)
    switch (row.previous_status as DeviceAuthorizationStatus) {
      case 'approved':
        return { status: 'approved', record: row.record as DeviceAuthorizationRecord, approval: row.approval as DeviceApproval }
      case 'denied':
        return { status: 'denied' }
      case 'consumed':
        return { status: 'consumed' }
      case 'pending':
        return interval > Number(row.previous_interval) ? { status: 'slow_down', interval } : { status: 'pending', interval }
    }
  }

  async markUsed (key: string, expiresAt: EpochSeconds): Promise<boolean> {
    return await this.#first('markUsed', [key, expiresAt]) !== undefined
  }

  async incrementCounter (key: string, windowSeconds: number): Promise<{ count: number, resetAt: EpochSeconds }> {
    const row = await this.#first('incrementCounter', [key, Math.max(1, Math.ceil(windowSeconds))])
    return { count: Number(row?.count), resetAt: Number(row?.reset_at) }
  }

  async getCounter (key: string): Promise<{ count: number, resetAt: EpochSeconds } | undefined> {
    const row = await this.#first('getCounter', [key])
    return row === undefined ? undefined : counterOf(row)
  }

  /** One statement for every key, in the order of `keys`. */
  async getCounters (keys: readonly string[]): Promise<Array<{ count: number, resetAt: EpochSeconds } | undefined>> {
    if (keys.length > maxCounterKeys) return (await this.#query('getCounters', [keys])).map(counterOf)
    if (keys.length === 0) return []
    const { rows } = await this.#execute(`getCounters${keys.length}`, this.#counters(keys.length).getCounters, [...keys])
    return countersAt(rows, keys.length)
  }

  async getClientWithCounters (clientId: string, keys: readonly string[]): Promise<{ client: ClientRecord | undefined, counters: Array<{ count: number, resetAt: EpochSeconds } | undefined> }> {
    if (keys.length > maxCounterKeys) {
      const rows = await this.#query('getClientWithCounters', [keys, clientId])
      return { client: (rows[0]?.client ?? undefined) as ClientRecord | undefined, counters: rows.map(counterOf) }
    }
    if (keys.length === 0) return { client: await this.getClient(clientId), counters: [] }
    const { rows } = await this.#execute(`getClientWithCounters${keys.length}`, this.#counters(keys.length).getClientWithCounters, [clientId, ...keys])
    // The client's row is the one at position 0, present when the client exists.
    const client = rows.find((row) => row.position === 0)?.client as ClientRecord | undefined
    return { client, counters: countersAt(rows, keys.length) }
  }

  #counters (count: number): ReturnType<typeof counterStatements> {
    let texts = this.#counterSql.get(count)
    if (texts === undefined) {
      texts = counterStatements(quoteIdentifier(this.#schema), count)
      this.#counterSql.set(count, texts)
    }
    return texts
  }

  async resetCounter (key: string): Promise<void> {
    await this.#query('resetCounter', [key])
  }

  // plumbing ----------------------------------------------------------------------------------

  async #query (name: StatementName, values: unknown[]): Promise<Row[]> {
    return (await this.#execute(name, this.#sql[name], values)).rows
  }

  async #first (name: StatementName, values: unknown[]): Promise<Row | undefined> {
    return (await this.#query(name, values))[0]
  }

  /** The `n` of a statement that answers one count. */
  async #count (name: StatementName, values: unknown[]): Promise<number> {
    return Number((await this.#first(name, values))?.n ?? 0)
  }

  async #resolvePool (): Promise<PostgresPool> {
    if (this.#pool instanceof Promise) this.#pool = await this.#pool
    return this.#pool
  }

  /**
   * Runs one statement on a connection of the pool, bounded by `operationTimeoutMs` from the
   * first moment (waiting for a connection counts). Any failure becomes `StoreUnavailableError`
   * with the cause attached. Past the bound: a connection that arrives late is handed back
   * unused, and one whose statement is in flight is closed. A statement the server already
   * runs is bounded by `statement_timeout` (cancelled, rolled back) before this bound fires;
   * one still in the network when the connection closes never arrives complete, as far as the
   * network keeps TCP's order.
   */
  async #execute (name: string, text: string, values: unknown[]): Promise<{ rows: Row[], rowCount: number }> {
    let pool: PostgresPool
    if (this.#pool instanceof Promise) {
      // Once per store at most: its own pool, waiting for `pg` to load (the bound starts after).
      try {
        pool = await this.#resolvePool()
      } catch (error) {
        throw new StoreUnavailableError(`postgres store: ${name} failed`, { cause: error })
      }
    } else {
      pool = this.#pool
    }
    // One promise, one timer and a few closures per statement (issue 27: this plumbing cost about
    // 10 µs per statement as a race of two promises with a once() wrapper).
    return await new Promise((resolve, reject) => {
      /** The connection while its statement is in flight; taken (undefined) by whoever releases it. */
      let held: PostgresPoolClient | undefined
      let settled = false
      const timer = setTimeout(() => {
        settled = true
        const error = new StoreUnavailableError(`postgres store: ${name} did not complete within ${this.#timeoutMs} ms`)
        // Closing the connection is the only way to make sure a stuck statement never runs late.
        const client = held
        held = undefined
        client?.release(error)
        reject(error)
      }, this.#timeoutMs)
      const fail = (error: unknown): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        reject(new StoreUnavailableError(`postgres store: ${name} failed`, { cause: error }))
      }
      let connecting: Promise<PostgresPoolClient>
      try {
        connecting = pool.connect()
      } catch (error) {
        connecting = Promise.reject(error)
      }
      connecting.then((client) => {
        // Past the bound while waiting for a connection: hand it back unused.
        if (settled) {
          client.release()
          return
        }
        held = client
        let answer: ReturnType<PostgresPoolClient['query']>
        try {
          answer = client.query({ name: this.#namePrefix + name, text, values })
        } catch (error) {
          answer = Promise.reject(error)
        }
        answer.then((result) => {
          if (held === undefined) return
          held = undefined
          client.release()
          settled = true
          clearTimeout(timer)
          resolve({ rows: result.rows, rowCount: result.rowCount ?? 0 })
        }, (error: unknown) => {
          if (held !== undefined) {
            held = undefined
            client.release(connectionLost(error) ? error as Error : undefined)
          }
          fail(error)
        })
      }, fail)
    })
  }

  #sweepInBackground (): void {
    if (this.#sweeping !== undefined || this.#closed) return
    this.#sweeping = this.sweep()
      .catch((error: unknown) => { this.#onError(error as Error) })
      .finally(() => { this.#sweeping = undefined })
  }
}

/** 32-bit FNV-1a, hex: a short stable tag for prepared-statement names. */
function fnv1a (value: string): string {
  let hash = 0x811c9dc5
  for (const byte of Buffer.from(value)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0
  return hash.toString(16).padStart(8, '0')
}

/** The consume statement's row (record when this caller won) as the contract's result. */
/** A `sessions` row (record, clients) as getSession answers it. */
function sessionOf (row: Row): SessionRecord {
  const clients = row.clients as string[]
  return clients.length === 0 ? row.record as SessionRecord : { ...row.record as SessionRecord, clients }
}

/** A counter row (count, reset_at; count NULL: none on record) as the contract's counter. */
function counterOf (row: Row): { count: number, resetAt: EpochSeconds } | undefined {
  return row.count === null || row.count === undefined ? undefined : { count: Number(row.count), resetAt: Number(row.reset_at) }
}

/** The live counters of `counterStatements` (rows by 1-based `position`) in the order of the keys. */
function countersAt (rows: Row[], count: number): Array<{ count: number, resetAt: EpochSeconds } | undefined> {
  const counters = new Array<{ count: number, resetAt: EpochSeconds } | undefined>(count).fill(undefined)
  for (const row of rows) {
    const position = row.position as number
    if (position > 0) counters[position - 1] = { count: Number(row.count), resetAt: Number(row.reset_at) }
  }
  return counters
}

function consumeResult<T> (row: Row | undefined): ConsumeResult<T> {
  if (row === undefined) return { status: 'not_found' }
  if (row.record !== null && row.record !== undefined) return { status: 'consumed', record: row.record as T }
  return { status: 'already_consumed', grantId: row.grant_id as string }
}
