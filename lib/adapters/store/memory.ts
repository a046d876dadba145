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
import { grantActivity } from './grant-activity.js'

/** Options of `new MemoryStore(options)`. */
export interface MemoryStoreOptions {
  /** How often expired records are swept, in milliseconds. Default 10 000. */
  sweepIntervalMs?: number
}

interface Expiring { expiresAt: EpochSeconds }

const now = (): EpochSeconds => Math.floor(Date.now() / 1000)

/**
 * A Map whose entries disappear after their `expiresAt`: lazily on read, and in bulk when the
 * store sweeps, so memory stays bounded under load even for records nobody reads again.
 */
/** Freezes `value` and everything it holds (a JSON-like record: objects and arrays). */
function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const member of Object.values(value)) deepFreeze(member)
    Object.freeze(value)
  }
  return value
}

class ExpiringMap<V extends Expiring> {
  readonly #entries = new Map<string, V>()

  get (key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= now()) {
      this.#entries.delete(key)
      return undefined
    }
    return entry
  }

  set (key: string, value: V): void {
    this.#entries.set(key, value)
  }

  delete (key: string): boolean {
    return this.#entries.delete(key)
  }

  /** Live entries (expired ones skipped). Deleting while iterating a Map is safe. */
  * entries (): Generator<[string, V]> {
    const at = now()
    for (const [key, entry] of this.#entries) if (entry.expiresAt > at) yield [key, entry]
  }

  sweep (at: EpochSeconds): void {
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= at) this.#entries.delete(key)
    }
  }

  get size (): number {
    return this.#entries.size
  }
}

/** A code until its use; after it, only the tombstone of its grant (a replay revokes what it issued). */
interface CodeEntry extends Expiring { record: AuthorizationCodeRecord | undefined, grantId: string }
interface RefreshEntry extends Expiring { record: RefreshTokenRecord, consumed: boolean }
interface CounterEntry extends Expiring { count: number }
/** A device authorization and its polling state (RFC 8628 §3.5). */
interface DeviceEntry extends Expiring {
  record: DeviceAuthorizationRecord
  status: DeviceAuthorizationStatus
  interval: number
  lastPollMs?: number
  approval?: DeviceApproval
}
/** A family and its rotation state: which token is current, which one it replaced and when. */
interface FamilyEntry extends Expiring {
  record: RefreshFamilyRecord
  revoked: boolean
  current: string | undefined
  previous?: { tokenHash: string, rotatedAtMs: number, sealed: string, scope: string | undefined }
}

/**
 * The in-process store: the default, for development, tests and single-instance deployments.
 * Everything is lost on restart and nothing is shared between processes; use `RedisStore` to
 * run several provider instances.
 *
 * Atomicity comes from JavaScript's run-to-completion: every method reads and writes its maps
 * without an `await` in between, so concurrent callers are serialized.
 *
 * @example
 * await app.register(oidcProvider, { issuer, store: new MemoryStore() })
 */
export class MemoryStore implements Store {
  readonly #clients = new Map<string, ClientRecord>()
  readonly #codes = new ExpiringMap<CodeEntry>()
  readonly #refreshTokens = new ExpiringMap<RefreshEntry>()
  readonly #grants = new ExpiringMap<GrantRecord>()
  /** `${accountId}\n${clientId}` → grantId */
  readonly #grantByPair = new Map<string, string>()
  /** accountId → ids of its grants (connected apps), tidied on read and by the sweep */
  readonly #accountGrants = new Map<string, Set<string>>()
  /** grantId → ids of its families, tidied likewise */
  readonly #grantFamilies = new Map<string, Set<string>>()
  /** `${grantId}\n${familyId}` → family */
  readonly #families = new ExpiringMap<FamilyEntry>()
  /** `${grantId}\n${tokenHash}` → a family's refresh token (rotated ones stay until they expire) */
  readonly #familyTokens = new ExpiringMap<FamilyTokenRecord>()
  /** sessionId → family keys of its non-offline families */
  readonly #sessionFamilies = new Map<string, Set<string>>()
  /** clientId → family keys of the families token exchanges started for it (under other clients' grants), tidied likewise */
  readonly #clientFamilies = new Map<string, Set<string>>()
  readonly #revokedJtis = new ExpiringMap<Expiring>()
  readonly #sessions = new ExpiringMap<SessionRecord>()
  /** sessionId → clients it signed into; lives and dies with the session. */
  readonly #sessionClients = new Map<string, Set<string>>()
  /** accountId → its session ids (the account page's list, without a scan); pruned as read and swept. */
  readonly #accountSessions = new Map<string, Set<string>>()
  readonly #interactions = new ExpiringMap<InteractionRecord>()
  readonly #used = new ExpiringMap<Expiring>()
  readonly #counters = new ExpiringMap<CounterEntry>()
  readonly #devices = new ExpiringMap<DeviceEntry>()
  /** userCodeHash → deviceCodeHash */
  readonly #deviceUserCodes = new ExpiringMap<Expiring & { deviceCodeHash: string }>()
  readonly #sweeper: NodeJS.Timeout

  constructor (options: MemoryStoreOptions = {}) {
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 10_000)
    // The sweeper must never keep a process (a test, a CLI) alive.
    this.#sweeper.unref()
  }

  /** Removes every expired record now. Runs on a timer; exposed for tests and benchmarks. */
  sweep (): void {
    const at = now()
    this.#codes.sweep(at)
    this.#refreshTokens.sweep(at)
    this.#grants.sweep(at)
    this.#families.sweep(at)
    this.#familyTokens.sweep(at)
    this.#revokedJtis.sweep(at)
    this.#sessions.sweep(at)
    this.#interactions.sweep(at)
    this.#used.sweep(at)
    this.#counters.sweep(at)
    this.#devices.sweep(at)
    this.#deviceUserCodes.sweep(at)
    for (const [accountId, sessionIds] of this.#accountSessions) {
      for (const sessionId of sessionIds) if (this.#sessions.get(sessionId) === undefined) sessionIds.delete(sessionId)
      if (sessionIds.size === 0) this.#accountSessions.delete(accountId)
    }
    for (const sessionId of this.#sessionClients.keys()) {
      if (this.#sessions.get(sessionId) === undefined) this.#sessionClients.delete(sessionId)
    }
    for (const [pair, grantId] of this.#grantByPair) {
      if (this.#grants.get(grantId) === undefined) this.#grantByPair.delete(pair)
    }
    for (const [accountId, grantIds] of this.#accountGrants) {
      for (const grantId of grantIds) if (this.#grants.get(grantId) === undefined) grantIds.delete(grantId)
      if (grantIds.size === 0) this.#accountGrants.delete(accountId)
    }
    for (const [grantId, familyIds] of this.#grantFamilies) {
      for (const familyId of familyIds) if (this.#families.get(pairKey(grantId, familyId)) === undefined) familyIds.delete(familyId)
      if (familyIds.size === 0) this.#grantFamilies.delete(grantId)
    }
    for (const index of [this.#sessionFamilies, this.#clientFamilies]) {
      for (const [owner, keys] of index) {
        for (const key of keys) if (this.#families.get(key) === undefined) keys.delete(key)
        if (keys.size === 0) index.delete(owner)
      }
    }
  }

  /** Number of live records of every kind (for benchmarks and leak checks). */
  get size (): number {
    return this.#clients.size + this.#codes.size + this.#refreshTokens.size + this.#grants.size +
      this.#grantByPair.size + this.#families.size + this.#familyTokens.size + this.#sessionFamilies.size + this.#clientFamilies.size +
      this.#accountGrants.size + this.#grantFamilies.size +
      this.#revokedJtis.size + this.#sessions.size + this.#accountSessions.size +
      this.#interactions.size + this.#used.size + this.#counters.size
  }

  async close (): Promise<void> {
    clearInterval(this.#sweeper)
  }

  /** Always ready: the records live in this process. */
  async ping (): Promise<void> {}

  // clients ------------------------------------------------------------------------------------

  /**
   * The stored record itself, deeply frozen when saved: nobody can change the store through it,
   * and no lookup copies it (issue 32: two lookups per code flow, and per-client caches keyed by
   * the record keep hitting).
   */
  async getClient (clientId: string): Promise<ClientRecord | undefined> {
    return this.#clients.get(clientId)
  }

  async saveClient (client: ClientRecord): Promise<void> {
    this.#clients.set(client.client_id, deepFreeze(structuredClone(client)))
  }

  async deleteClient (clientId: string): Promise<boolean> {
    return this.#clients.delete(clientId)
  }

  async updateClientIfExists (client: ClientRecord): Promise<boolean> {
    if (!this.#clients.has(client.client_id)) return false
    this.#clients.set(client.client_id, deepFreeze(structuredClone(client)))
    return true
  }

  // codes --------------------------------------------------------------------------------------

  async saveCode (codeHash: string, record: AuthorizationCodeRecord): Promise<void> {
    this.#codes.set(codeHash, { record: { ...record }, grantId: record.grantId, expiresAt: record.expiresAt })
  }

  async saveCodeOnce (codeHash: string, record: AuthorizationCodeRecord, usedKey: string, usedUntil: EpochSeconds): Promise<boolean> {
    if (!await this.markUsed(usedKey, usedUntil)) return false
    await this.saveCode(codeHash, record)
    return true
  }

  async consumeCode (codeHash: string): Promise<CodeConsumeResult> {
    const entry = this.#codes.get(codeHash)
    if (entry === undefined) return { status: 'not_found' }
    const record = entry.record
    if (record === undefined) return { status: 'already_consumed', grantId: entry.grantId }
    // The store lets go of the record as it hands it over (a tombstone keeps the grant id): the
    // caller gets the store's own copy, and no copy is made per redemption.
    entry.record = undefined
    const grant = this.#grants.get(entry.grantId)
    return { status: 'consumed', record, grant: grant === undefined ? null : { ...grant } }
  }

  // refresh tokens -----------------------------------------------------------------------------

  async saveRefreshToken (tokenHash: string, record: RefreshTokenRecord): Promise<void> {
    this.#refreshTokens.set(tokenHash, { record: { ...record }, consumed: false, expiresAt: record.expiresAt })
  }

  async findRefreshToken (tokenHash: string): Promise<RefreshTokenState | undefined> {
    const entry = this.#refreshTokens.get(tokenHash)
    if (entry === undefined) return undefined
    return { status: entry.consumed ? 'consumed' : 'active', record: { ...entry.record } }
  }

  async consumeRefreshToken (
    tokenHash: string,
    replacement?: { tokenHash: string, record: RefreshTokenRecord }
  ): Promise<ConsumeResult<RefreshTokenRecord>> {
    const entry = this.#refreshTokens.get(tokenHash)
    if (entry === undefined) return { status: 'not_found' }
    if (entry.consumed) return { status: 'already_consumed', grantId: entry.record.grantId }
    entry.consumed = true
    if (replacement !== undefined) {
      this.#refreshTokens.set(replacement.tokenHash, {
        record: { ...replacement.record },
        consumed: false,
        expiresAt: replacement.record.expiresAt,
      })
    }
    return { status: 'consumed', record: { ...entry.record } }
  }

  async listClients (page: ClientPage): Promise<ClientsPage> {
    const after = page.after
    const ids = [...this.#clients.keys()].filter((clientId) => after === undefined || clientId > after).sort()
    const slice = ids.slice(0, page.limit)
    const clients = slice.flatMap((clientId) => {
      const client = this.#clients.get(clientId)
      return client === undefined ? [] : [client]
    })
    const last = slice.at(-1)
    return ids.length > slice.length && last !== undefined ? { clients, next: last } : { clients }
  }

  // grants -------------------------------------------------------------------------------------

  async saveGrant (grant: GrantRecord): Promise<void> {
    this.#grants.set(grant.grantId, { ...grant })
    this.#grantByPair.set(pairKey(grant.accountId, grant.clientId), grant.grantId)
    addToIndex(this.#accountGrants, grant.accountId, grant.grantId)
  }

  async getGrant (grantId: string): Promise<GrantRecord | undefined> {
    const grant = this.#grants.get(grantId)
    return grant === undefined ? undefined : { ...grant }
  }

  async findGrant (accountId: string, clientId: string): Promise<GrantRecord | undefined> {
    const grantId = this.#grantByPair.get(pairKey(accountId, clientId))
    return grantId === undefined ? undefined : await this.getGrant(grantId)
  }

  async revokeGrant (grantId: string): Promise<boolean> {
    const grant = this.#grants.get(grantId)
    if (grant === undefined) return false
    this.#grants.delete(grantId)
    const pair = pairKey(grant.accountId, grant.clientId)
    if (this.#grantByPair.get(pair) === grantId) this.#grantByPair.delete(pair)
    this.#accountGrants.get(grant.accountId)?.delete(grantId)
    return true
  }

  async revokeAccountGrants (accountId: string): Promise<number> {
    return this.#revokeWhere((grant) => grant.accountId === accountId)
  }

  /** The client's grants, and the families token exchanges started for it under other clients' grants. */
  async revokeClientGrants (clientId: string): Promise<number> {
    const keys = this.#clientFamilies.get(clientId)
    this.#clientFamilies.delete(clientId)
    for (const key of keys ?? []) {
      const family = this.#families.get(key)
      if (family !== undefined) family.revoked = true
    }
    return this.#revokeWhere((grant) => grant.clientId === clientId)
  }

  async extendGrant (grantId: string, expiresAt: EpochSeconds): Promise<boolean> {
    const grant = this.#grants.get(grantId)
    if (grant === undefined) return false
    grant.expiresAt = Math.max(grant.expiresAt, expiresAt)
    return true
  }

  async listAccountGrants (accountId: string, page: GrantPage): Promise<AccountGrantsPage> {
    const ids = [...this.#accountGrants.get(accountId) ?? []].sort()
    const after = page.after
    const from = after === undefined ? ids : ids.filter((grantId) => grantId > after)
    const slice = from.slice(0, page.limit)
    const grants: GrantActivity[] = []
    for (const grantId of slice) {
      const grant = this.#grants.get(grantId)
      if (grant !== undefined) grants.push(grantActivity(grant, this.#liveFamilies(grantId)))
    }
    const last = slice.at(-1)
    return from.length > slice.length && last !== undefined ? { grants, next: last } : { grants }
  }

  #liveFamilies (grantId: string): Array<{ record: RefreshFamilyRecord, rotatedAt: EpochSeconds | undefined }> {
    const live: Array<{ record: RefreshFamilyRecord, rotatedAt: EpochSeconds | undefined }> = []
    for (const familyId of this.#grantFamilies.get(grantId) ?? []) {
      const entry = this.#families.get(pairKey(grantId, familyId))
      if (entry === undefined || entry.revoked) continue
      live.push({ record: entry.record, rotatedAt: entry.previous === undefined ? undefined : Math.floor(entry.previous.rotatedAtMs / 1000) })
    }
    return live
  }

  #revokeWhere (match: (grant: GrantRecord) => boolean): number {
    let count = 0
    // Every live grant, not only the newest per (account, client): a grant replaced by a newer
    // one for the same pair still has live tokens until it is revoked too.
    for (const [grantId, grant] of this.#grants.entries()) {
      if (!match(grant)) continue
      this.#grants.delete(grantId)
      const pair = pairKey(grant.accountId, grant.clientId)
      if (this.#grantByPair.get(pair) === grantId) this.#grantByPair.delete(pair)
      this.#accountGrants.get(grant.accountId)?.delete(grantId)
      count++
    }
    return count
  }

  // refresh-token families --------------------------------------------------------------------

  async startRefreshFamily (family: RefreshFamilyRecord, first?: FamilyTokenRecord): Promise<boolean> {
    const key = pairKey(family.grantId, family.familyId)
    if (this.#families.get(key) !== undefined) return false
    this.#families.set(key, { record: { ...family }, revoked: false, current: first?.tokenHash, expiresAt: family.expiresAt })
    if (first !== undefined) this.#familyTokens.set(pairKey(family.grantId, first.tokenHash), { ...first })
    addToIndex(this.#grantFamilies, family.grantId, family.familyId)
    if (family.exchange !== undefined) addToIndex(this.#clientFamilies, family.clientId, key)
    if (family.sessionId !== undefined && !family.offline && first !== undefined) {
      const keys = this.#sessionFamilies.get(family.sessionId) ?? new Set<string>()
      keys.add(key)
      this.#sessionFamilies.set(family.sessionId, keys)
    }
    return true
  }

  /** One synchronous step: no `await` between the checks and the writes. */
  async rotateRefreshToken (rotation: RefreshRotation): Promise<RotationResult> {
    const family = this.#liveFamily(rotation.grantId, rotation.familyId)
    if (family === undefined) return { status: 'not_found' }
    if (this.#familyTokens.get(pairKey(rotation.grantId, rotation.tokenHash)) === undefined) return { status: 'not_found' }
    if (family.record.clientId !== rotation.clientId) return { status: 'wrong_client' }
    const notGranted = ungrantedScope(family.record.scope, rotation.scope)
    if (notGranted !== undefined) return { status: 'invalid_scope', scope: notGranted }
    const nowMs = Date.now()
    if (family.current === rotation.tokenHash) {
      const issuedAt = Math.floor(nowMs / 1000)
      const successor: FamilyTokenRecord = {
        tokenHash: rotation.successor.tokenHash,
        issuedAt,
        expiresAt: Math.min(issuedAt + rotation.successor.lifetimeSeconds, family.record.expiresAt),
      }
      this.#familyTokens.set(pairKey(rotation.grantId, successor.tokenHash), successor)
      family.previous = { tokenHash: rotation.tokenHash, rotatedAtMs: nowMs, sealed: rotation.successor.sealed, scope: rotation.scope }
      family.current = successor.tokenHash
      const grantExpiresAt = this.#grants.get(rotation.grantId)?.expiresAt ?? 0
      return { status: 'rotated', family: { ...family.record }, successor: { ...successor }, grantExpiresAt }
    }
    const previous = family.previous
    if (previous?.tokenHash === rotation.tokenHash && nowMs < previous.rotatedAtMs + rotation.graceSeconds * 1000) {
      return { status: 'retried', family: { ...family.record }, sealed: previous.sealed, scope: previous.scope }
    }
    family.revoked = true
    return { status: 'reused', family: { ...family.record } }
  }

  async findFamilyRefreshToken (grantId: string, familyId: string, tokenHash: string): Promise<{ family: RefreshFamilyRecord, token: FamilyTokenRecord } | undefined> {
    const family = this.#liveFamily(grantId, familyId)
    if (family === undefined || family.current !== tokenHash) return undefined
    const token = this.#familyTokens.get(pairKey(grantId, tokenHash))
    return token === undefined ? undefined : { family: { ...family.record }, token: { ...token } }
  }

  async revokeRefreshFamily (grantId: string, familyId: string, tombstoneUntil: EpochSeconds): Promise<boolean> {
    const key = pairKey(grantId, familyId)
    const family = this.#families.get(key)
    if (family === undefined) {
      // Not started yet (or expired): a tombstone, so a racing start cannot bring it to life.
      this.#families.set(key, {
        record: { familyId, grantId, clientId: '', accountId: '', scope: '', authTime: 0, offline: false, createdAt: 0, expiresAt: tombstoneUntil },
        revoked: true,
        current: undefined,
        expiresAt: tombstoneUntil,
      })
      return false
    }
    if (family.revoked) return false
    family.revoked = true
    return true
  }

  async revokeSessionFamilies (sessionId: string): Promise<number> {
    const keys = this.#sessionFamilies.get(sessionId)
    this.#sessionFamilies.delete(sessionId)
    let count = 0
    for (const key of keys ?? []) {
      const family = this.#families.get(key)
      if (family === undefined || family.revoked) continue
      family.revoked = true
      count++
    }
    return count
  }

  /** The family while it and its grant are alive. */
  #liveFamily (grantId: string, familyId: string): FamilyEntry | undefined {
    if (this.#grants.get(grantId) === undefined) return undefined
    const family = this.#families.get(pairKey(grantId, familyId))
    return family === undefined || family.revoked ? undefined : family
  }

  // access tokens ------------------------------------------------------------------------------

  async revokeAccessToken (jti: string, expiresAt: EpochSeconds): Promise<void> {
    this.#revokedJtis.set(jti, { expiresAt })
  }

  async isAccessTokenRevoked (jti: string, grantId: string | undefined, familyId?: string): Promise<boolean> {
    if (this.#revokedJtis.get(jti) !== undefined) return true
    if (grantId === undefined) return false
    if (familyId !== undefined) return this.#liveFamily(grantId, familyId) === undefined
    return this.#grants.get(grantId) === undefined
  }

  // sessions -----------------------------------------------------------------------------------

  async saveSession (session: SessionRecord): Promise<void> {
    this.#sessions.set(session.sessionId, { ...session })
    const sessionIds = this.#accountSessions.get(session.accountId) ?? new Set<string>()
    sessionIds.add(session.sessionId)
    this.#accountSessions.set(session.accountId, sessionIds)
  }

  async listAccountSessions (accountId: string): Promise<SessionRecord[]> {
    const sessionIds = this.#accountSessions.get(accountId)
    if (sessionIds === undefined) return []
    const sessions: SessionRecord[] = []
    for (const sessionId of sessionIds) {
      const session = this.#sessions.get(sessionId)
      // Gone, or the id now names another account's session: drop it from this index.
      if (session === undefined || session.accountId !== accountId) sessionIds.delete(sessionId)
      else sessions.push({ ...session })
    }
    if (sessionIds.size === 0) this.#accountSessions.delete(accountId)
    return sessions
  }

  async touchSession (sessionId: string, lastSeenAt: EpochSeconds): Promise<boolean> {
    const session = this.#sessions.get(sessionId)
    if (session === undefined) return false
    this.#sessions.set(sessionId, { ...session, lastSeenAt })
    return true
  }

  async getSession (sessionId: string): Promise<SessionRecord | undefined> {
    const session = this.#sessions.get(sessionId)
    if (session === undefined) return undefined
    const clients = this.#sessionClients.get(sessionId)
    return clients === undefined || clients.size === 0 ? { ...session } : { ...session, clients: [...clients] }
  }

  async getSessionWithGrant (sessionId: string, clientId: string): Promise<{ session: SessionRecord, grant: GrantRecord | undefined } | undefined> {
    const session = await this.getSession(sessionId)
    return session === undefined ? undefined : { session, grant: await this.findGrant(session.accountId, clientId) }
  }

  async deleteSession (sessionId: string): Promise<void> {
    this.#sessions.delete(sessionId)
    this.#sessionClients.delete(sessionId)
  }

  async deleteAccountSessions (accountId: string): Promise<number> {
    let count = 0
    for (const [sessionId, session] of this.#sessions.entries()) {
      if (session.accountId !== accountId) continue
      this.#sessions.delete(sessionId)
      this.#sessionClients.delete(sessionId)
      await this.revokeSessionFamilies(sessionId)
      count++
    }
    return count
  }

  async addSessionClient (sessionId: string, clientId: string): Promise<boolean> {
    if (this.#sessions.get(sessionId) === undefined) return false
    const clients = this.#sessionClients.get(sessionId) ?? new Set<string>()
    clients.add(clientId)
    this.#sessionClients.set(sessionId, clients)
    return true
  }

  async takeSession (sessionId: string): Promise<SessionRecord | undefined> {
    const session = this.#sessions.get(sessionId)
    const clients = this.#sessionClients.get(sessionId)
    this.#sessions.delete(sessionId)
    this.#sessionClients.delete(sessionId)
    return session === undefined ? undefined : { ...session, clients: [...clients ?? []] }
  }

  async takeAccountSessions (accountId: string): Promise<SessionRecord[]> {
    const taken: SessionRecord[] = []
    for (const [sessionId, session] of this.#sessions.entries()) {
      if (session.accountId !== accountId) continue
      const record = await this.takeSession(sessionId)
      if (record !== undefined) taken.push(record)
    }
    return taken
  }

  // interactions -------------------------------------------------------------------------------

  async saveInteraction (interaction: InteractionRecord): Promise<void> {
    this.#interactions.set(interaction.interactionId, structuredClone(interaction))
  }

  async getInteraction (interactionId: string): Promise<InteractionRecord | undefined> {
    const interaction = this.#interactions.get(interactionId)
    return interaction === undefined ? undefined : structuredClone(interaction)
  }

  async consumeInteraction (interactionId: string): Promise<InteractionRecord | undefined> {
    const interaction = this.#interactions.get(interactionId)
    if (interaction === undefined) return undefined
    this.#interactions.delete(interactionId)
    return interaction
  }

  // replay and counters ------------------------------------------------------------------------

  async markUsed (key: string, expiresAt: EpochSeconds): Promise<boolean> {
    if (this.#used.get(key) !== undefined) return false
    this.#used.set(key, { expiresAt })
    return true
  }

  async incrementCounter (key: string, windowSeconds: number): Promise<{ count: number, resetAt: EpochSeconds }> {
    let entry = this.#counters.get(key)
    if (entry === undefined) {
      entry = { count: 0, expiresAt: now() + windowSeconds }
      this.#counters.set(key, entry)
    }
    entry.count++
    return { count: entry.count, resetAt: entry.expiresAt }
  }

  async getCounter (key: string): Promise<{ count: number, resetAt: EpochSeconds } | undefined> {
    const entry = this.#counters.get(key)
    return entry === undefined ? undefined : { count: entry.count, resetAt: entry.expiresAt }
  }

  async getCounters (keys: readonly string[]): Promise<Array<{ count: number, resetAt: EpochSeconds } | undefined>> {
    // Read in one synchronous pass: no promise per key on every client authentication.
    return keys.map((key) => {
      const entry = this.#counters.get(key)
      return entry === undefined ? undefined : { count: entry.count, resetAt: entry.expiresAt }
    })
  }

  async getClientWithCounters (clientId: string, keys: readonly string[]): Promise<{ client: ClientRecord | undefined, counters: Array<{ count: number, resetAt: EpochSeconds } | undefined> }> {
    return { client: await this.getClient(clientId), counters: await this.getCounters(keys) }
  }

  async resetCounter (key: string): Promise<void> {
    this.#counters.delete(key)
  }
  // device authorizations: RFC 8628 ------------------------------------------------------------

  async createDeviceAuthorization (deviceCodeHash: string, record: DeviceAuthorizationRecord): Promise<boolean> {
    if (this.#deviceUserCodes.get(record.userCodeHash) !== undefined || this.#devices.get(deviceCodeHash) !== undefined) return false
    this.#deviceUserCodes.set(record.userCodeHash, { deviceCodeHash, expiresAt: record.expiresAt })
    this.#devices.set(deviceCodeHash, { record: structuredClone(record), status: 'pending', interval: record.interval, expiresAt: record.expiresAt })
    return true
  }

  async findDeviceAuthorization (userCodeHash: string): Promise<{ deviceCodeHash: string, record: DeviceAuthorizationRecord, status: DeviceAuthorizationStatus } | undefined> {
    const index = this.#deviceUserCodes.get(userCodeHash)
    const entry = index === undefined ? undefined : this.#devices.get(index.deviceCodeHash)
    if (index === undefined || entry === undefined) return undefined
    return { deviceCodeHash: index.deviceCodeHash, record: structuredClone(entry.record), status: entry.status }
  }

  async decideDeviceAuthorization (deviceCodeHash: string, decision: { approved: DeviceApproval } | { denied: true }): Promise<boolean> {
    const entry = this.#devices.get(deviceCodeHash)
    if (entry === undefined || entry.status !== 'pending' || entry.record.codeExpiresAt * 1000 <= Date.now()) return false
    if ('approved' in decision) {
      entry.status = 'approved'
      entry.approval = structuredClone(decision.approved)
    } else {
      entry.status = 'denied'
    }
    return true
  }

  async pollDeviceAuthorization (deviceCodeHash: string, clientId: string): Promise<DevicePollResult> {
    const entry = this.#devices.get(deviceCodeHash)
    if (entry === undefined || entry.record.clientId !== clientId) return { status: 'not_found' }
    const nowMs = Date.now()
    if (entry.record.codeExpiresAt * 1000 <= nowMs) return { status: 'expired' }
    const previous = entry.lastPollMs
    entry.lastPollMs = nowMs
    switch (entry.status) {
      case 'approved':
        entry.status = 'consumed'
        return { status: 'approved', record: structuredClone(entry.record), approval: structuredClone(entry.approval!) }
      case 'denied':
      case 'consumed':
        return { status: entry.status }
      case 'pending':
        if (previous !== undefined && nowMs - previous < entry.interval * 1000) {
          entry.interval += 5
          return { status: 'slow_down', interval: entry.interval }
        }
        return { status: 'pending', interval: entry.interval }
    }
  }
}

function addToIndex (index: Map<string, Set<string>>, key: string, member: string): void {
  const members = index.get(key) ?? new Set<string>()
  members.add(member)
  index.set(key, members)
}

function pairKey (accountId: string, clientId: string): string {
  return `${accountId}\n${clientId}`
}

/** The first requested scope value the family was not granted (RFC 6749 §6), if any. */
function ungrantedScope (granted: string, requested: string | undefined): string | undefined {
  if (requested === undefined) return undefined
  const grantedSet = new Set(granted.split(' '))
  return requested.split(' ').find((value) => value !== '' && !grantedSet.has(value))
}
