import type {
  AuthorizationCodeRecord,
  ClientRecord,
  ConsumeResult,
  EpochSeconds,
  GrantRecord,
  InteractionRecord,
  RefreshTokenRecord,
  RefreshTokenState,
  SessionRecord,
  Store,
} from './types.js'

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

interface CodeEntry extends Expiring { record: AuthorizationCodeRecord, consumed: boolean }
interface RefreshEntry extends Expiring { record: RefreshTokenRecord, consumed: boolean }
interface CounterEntry extends Expiring { count: number }

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
  readonly #revokedJtis = new ExpiringMap<Expiring>()
  readonly #sessions = new ExpiringMap<SessionRecord>()
  /** sessionId → clients it signed into; lives and dies with the session. */
  readonly #sessionClients = new Map<string, Set<string>>()
  readonly #interactions = new ExpiringMap<InteractionRecord>()
  readonly #used = new ExpiringMap<Expiring>()
  readonly #counters = new ExpiringMap<CounterEntry>()
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
    this.#revokedJtis.sweep(at)
    this.#sessions.sweep(at)
    this.#interactions.sweep(at)
    this.#used.sweep(at)
    this.#counters.sweep(at)
    for (const sessionId of this.#sessionClients.keys()) {
      if (this.#sessions.get(sessionId) === undefined) this.#sessionClients.delete(sessionId)
    }
    for (const [pair, grantId] of this.#grantByPair) {
      if (this.#grants.get(grantId) === undefined) this.#grantByPair.delete(pair)
    }
  }

  /** Number of live records of every kind (for benchmarks and leak checks). */
  get size (): number {
    return this.#clients.size + this.#codes.size + this.#refreshTokens.size + this.#grants.size +
      this.#grantByPair.size + this.#revokedJtis.size + this.#sessions.size +
      this.#interactions.size + this.#used.size + this.#counters.size
  }

  async close (): Promise<void> {
    clearInterval(this.#sweeper)
  }

  // clients ------------------------------------------------------------------------------------

  async getClient (clientId: string): Promise<ClientRecord | undefined> {
    const client = this.#clients.get(clientId)
    return client === undefined ? undefined : structuredClone(client)
  }

  async saveClient (client: ClientRecord): Promise<void> {
    this.#clients.set(client.client_id, structuredClone(client))
  }

  async deleteClient (clientId: string): Promise<boolean> {
    return this.#clients.delete(clientId)
  }

  // codes --------------------------------------------------------------------------------------

  async saveCode (codeHash: string, record: AuthorizationCodeRecord): Promise<void> {
    this.#codes.set(codeHash, { record: { ...record }, consumed: false, expiresAt: record.expiresAt })
  }

  async consumeCode (codeHash: string): Promise<ConsumeResult<AuthorizationCodeRecord>> {
    const entry = this.#codes.get(codeHash)
    if (entry === undefined) return { status: 'not_found' }
    if (entry.consumed) return { status: 'already_consumed', grantId: entry.record.grantId }
    entry.consumed = true
    return { status: 'consumed', record: { ...entry.record } }
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

  // grants -------------------------------------------------------------------------------------

  async saveGrant (grant: GrantRecord): Promise<void> {
    this.#grants.set(grant.grantId, { ...grant })
    this.#grantByPair.set(pairKey(grant.accountId, grant.clientId), grant.grantId)
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
    return true
  }

  async revokeAccountGrants (accountId: string): Promise<number> {
    return this.#revokeWhere((grant) => grant.accountId === accountId)
  }

  async revokeClientGrants (clientId: string): Promise<number> {
    return this.#revokeWhere((grant) => grant.clientId === clientId)
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
      count++
    }
    return count
  }

  // access tokens ------------------------------------------------------------------------------

  async revokeAccessToken (jti: string, expiresAt: EpochSeconds): Promise<void> {
    this.#revokedJtis.set(jti, { expiresAt })
  }

  async isAccessTokenRevoked (jti: string, grantId: string | undefined): Promise<boolean> {
    if (this.#revokedJtis.get(jti) !== undefined) return true
    return grantId !== undefined && this.#grants.get(grantId) === undefined
  }

  // sessions -----------------------------------------------------------------------------------

  async saveSession (session: SessionRecord): Promise<void> {
    this.#sessions.set(session.sessionId, { ...session })
  }

  async getSession (sessionId: string): Promise<SessionRecord | undefined> {
    const session = this.#sessions.get(sessionId)
    return session === undefined ? undefined : { ...session }
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

  async resetCounter (key: string): Promise<void> {
    this.#counters.delete(key)
  }
}

function pairKey (accountId: string, clientId: string): string {
  return `${accountId}\n${clientId}`
}
