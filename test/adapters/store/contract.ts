/**
 * The store contract suite: ONE set of tests that every `Store` implementation must pass
 * (MemoryStore, RedisStore on one node, RedisStore on a Cluster, and later two provider
 * instances sharing one backend). It checks the rules written in `lib/contracts/store.ts`.
 *
 * Usage, from a `*.test.ts` file:
 *
 *   await storeContract(t, 'MemoryStore', async () => {
 *     const store = new MemoryStore()
 *     return { store, cleanup: () => store.close() }
 *   })
 *
 * A factory may also return a `peer`: a second store over the same backend (another process's
 * view, e.g. a second Redis connection). Races are then split between both stores and reads of
 * what one wrote go through the other, so "exactly one winner" is checked across instances.
 */
import type { Test } from 'tap'
import type {
  AuthorizationCodeRecord,
  ClientRecord,
  DeviceApproval,
  DeviceAuthorizationRecord,
  GrantRecord,
  InteractionRecord,
  RefreshFamilyRecord,
  RefreshRotation,
  RefreshTokenRecord,
  SessionRecord,
  Store,
} from '../../../lib/contracts/store.js'
import { nowSeconds, randomToken, sha256 } from '../../../lib/tokens/crypto.js'

export interface StoreUnderTest {
  store: Store
  /** A second store over the same backend (another instance); optional. */
  peer?: Store
  /** Releases the store and removes whatever the test wrote (keys under a test prefix, ...). */
  cleanup (): Promise<void>
}

export type StoreFactory = () => Promise<StoreUnderTest>

/** Names of the checks a store may declare as a known gap (reported as `todo`, never hidden). */
export type ContractCheck = 'revoke-replaced-grant'

export interface StoreContractOptions {
  /** Known gaps: the check still runs and is reported as todo with this reason. */
  knownGaps?: Partial<Record<ContractCheck, string>>
}

/** How many concurrent callers race for one single-use record. */
const RACERS = 50

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Runs a write to a record a store returned: a frozen record refuses it (TypeError), a copy takes it. */
function attemptWrite (write: () => unknown): void {
  try {
    write()
  } catch (error) {
    if (!(error instanceof TypeError)) throw error
  }
}

/** A code consume's result without the optional grant read with it (checked on its own). */
function withoutGrant<T extends { grant?: unknown }> (result: T): Omit<T, 'grant'> {
  const { grant: _grant, ...rest } = result
  return rest
}

// Fixtures ------------------------------------------------------------------------------------

const id = (): string => randomToken(12)
/** What the provider hands the store for a code or token: the SHA-256 of a random value. */
const hashed = (): string => sha256(randomToken())

function client (overrides: Partial<ClientRecord> = {}): ClientRecord {
  return {
    client_id: id(),
    client_secret_hash: hashed(),
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: ['https://rp.example/cb'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'openid profile email offline_access',
    application_type: 'web',
    client_name: 'Contract RP',
    contacts: ['ops@rp.example'],
    client_id_issued_at: nowSeconds(),
    ...overrides,
  }
}

function code (overrides: Partial<AuthorizationCodeRecord> = {}): AuthorizationCodeRecord {
  return {
    clientId: id(),
    grantId: id(),
    accountId: id(),
    redirectUri: 'https://rp.example/cb',
    codeChallenge: sha256('verifier'),
    codeChallengeMethod: 'S256',
    scope: 'openid profile',
    nonce: 'n-0S6_WzA2Mj',
    authTime: nowSeconds(),
    sessionId: id(),
    expiresAt: nowSeconds() + 60,
    ...overrides,
  }
}

function device (overrides: Partial<DeviceAuthorizationRecord> = {}): DeviceAuthorizationRecord {
  const now = nowSeconds()
  return {
    clientId: id(),
    userCodeHash: hashed(),
    params: { client_id: 'device-rp', scope: 'openid profile', resource: 'https://api.example/ https://other.example/' },
    interval: 5,
    codeExpiresAt: now + 600,
    expiresAt: now + 1200,
    ...overrides,
  }
}

function approval (overrides: Partial<DeviceApproval> = {}): DeviceApproval {
  return { accountId: id(), grantId: id(), scope: 'openid profile', authTime: nowSeconds(), sessionId: id(), sid: id(), amr: ['pwd'], ...overrides }
}

function refresh (overrides: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord {
  const now = nowSeconds()
  return {
    clientId: id(),
    grantId: id(),
    accountId: id(),
    scope: 'openid offline_access',
    authTime: now,
    sessionId: id(),
    issuedAt: now,
    expiresAt: now + 600,
    familyExpiresAt: now + 3600,
    ...overrides,
  }
}

function grant (overrides: Partial<GrantRecord> = {}): GrantRecord {
  return {
    grantId: id(),
    accountId: id(),
    clientId: id(),
    scope: 'openid profile',
    createdAt: nowSeconds(),
    expiresAt: nowSeconds() + 3600,
    ...overrides,
  }
}

function family (overrides: Partial<RefreshFamilyRecord> = {}): RefreshFamilyRecord {
  const now = nowSeconds()
  return {
    familyId: id(),
    grantId: id(),
    clientId: id(),
    accountId: id(),
    scope: 'openid profile offline_access',
    authTime: now,
    sessionId: id(),
    offline: true,
    createdAt: now,
    expiresAt: now + 3600,
    ...overrides,
  }
}

/** A family under a saved grant, with its first token: what a code exchange leaves behind. */
async function startedFamily (store: Store, overrides: Partial<RefreshFamilyRecord> = {}): Promise<{ family: RefreshFamilyRecord, first: string }> {
  const live = grant(overrides.grantId === undefined ? {} : { grantId: overrides.grantId })
  const record = family({ grantId: live.grantId, accountId: live.accountId, clientId: live.clientId, ...overrides })
  if (overrides.grantId === undefined) await store.saveGrant({ ...live, accountId: record.accountId, clientId: record.clientId })
  const first = hashed()
  const now = nowSeconds()
  if (!await store.startRefreshFamily(record, { tokenHash: first, issuedAt: now, expiresAt: now + 600 })) throw new Error('the family did not start')
  return { family: record, first }
}

function rotation (record: RefreshFamilyRecord, tokenHash: string, overrides: Partial<RefreshRotation> = {}): RefreshRotation {
  return {
    grantId: record.grantId,
    familyId: record.familyId,
    tokenHash,
    clientId: record.clientId,
    graceSeconds: 10,
    successor: { tokenHash: hashed(), lifetimeSeconds: 600, sealed: `sealed-${randomToken(8)}` },
    ...overrides,
  }
}

function session (overrides: Partial<SessionRecord> = {}): SessionRecord {
  return { sessionId: id(), accountId: id(), authTime: nowSeconds(), expiresAt: nowSeconds() + 600, ...overrides }
}

function interaction (overrides: Partial<InteractionRecord> = {}): InteractionRecord {
  return {
    interactionId: id(),
    clientId: id(),
    params: { response_type: 'code', scope: 'openid', state: 'xyz', redirect_uri: 'https://rp.example/cb' },
    csrfToken: randomToken(),
    expiresAt: nowSeconds() + 600,
    ...overrides,
  }
}

/** Runs `call` RACERS times at once, alternating between the store and its peer. */
async function race<T> (stores: Store[], call: (store: Store, index: number) => Promise<T>): Promise<T[]> {
  return await Promise.all(Array.from({ length: RACERS }, async (_, index) => await call(stores[index % stores.length] as Store, index)))
}

// The suite -----------------------------------------------------------------------------------

/**
 * Runs the whole contract against the stores `factory` builds (a fresh one per subtest).
 * Resolves when the suite has finished.
 */
export async function storeContract (
  t: Test,
  name: string,
  factory: StoreFactory,
  options: StoreContractOptions = {}
): Promise<void> {
  const gaps = options.knownGaps ?? {}

  await t.test(`store contract: ${name}`, async (t) => {
    /** A subtest with a fresh store; `other` is the peer when there is one, else the store itself. */
    const register = (title: string, body: (t: Test, store: Store, other: Store, stores: Store[]) => Promise<void>): void => {
      t.test(title, async (t) => {
        const { store, peer, cleanup } = await factory()
        t.teardown(cleanup)
        await body(t, store, peer ?? store, peer === undefined ? [store] : [store, peer])
      })
    }

    register('clients: save, get, replace, delete; values are copies or frozen', async (t, store, other) => {
      const record = client()
      t.equal(await store.getClient(record.client_id), undefined, 'unknown client')
      await store.saveClient(record)
      t.same(await other.getClient(record.client_id), record, 'saved client is readable')

      record.redirect_uris.push('https://evil.example/cb')
      const stored = await store.getClient(record.client_id)
      t.same(stored?.redirect_uris, ['https://rp.example/cb'], 'mutating the saved input does not change the store')
      // A copy, or the stored record frozen (the memory store): then the writes throw.
      attemptWrite(() => stored?.redirect_uris.push('https://evil.example/cb'))
      attemptWrite(() => { if (stored !== undefined) stored.scope = 'admin' })
      const again = await store.getClient(record.client_id)
      t.same(again?.redirect_uris, ['https://rp.example/cb'], 'mutating a returned record does not change the store')
      t.equal(again?.scope, 'openid profile email offline_access')

      const replaced = { ...client(), client_id: record.client_id, client_name: 'Renamed' }
      await other.saveClient(replaced)
      t.same(await store.getClient(record.client_id), replaced, 'saveClient replaces')

      const pub = client({ token_endpoint_auth_method: 'none', application_type: 'native' })
      delete pub.client_secret_hash
      await store.saveClient(pub)
      const readPub = await store.getClient(pub.client_id)
      t.same(readPub, pub, 'a public client round-trips without a secret hash')
      t.notOk(readPub !== undefined && 'client_secret_hash' in readPub, 'no secret hash appears')

      t.equal(await store.deleteClient(record.client_id), true, 'deleteClient reports an existing client')
      t.equal(await other.getClient(record.client_id), undefined, 'deleted client is gone')
      t.equal(await store.deleteClient(record.client_id), false, 'deleting again reports false')
      t.same(await store.getClient(pub.client_id), pub, 'other clients are untouched')
    })

    register('clients: listClients pages every stored client by id', async (t, store, other) => {
      const saved = [client(), client(), client()]
      for (const record of saved) await store.saveClient(record)
      const gone = client()
      await store.saveClient(gone)
      await store.deleteClient(gone.client_id)
      const ids = saved.map((record) => record.client_id).sort()
      const first = await other.listClients({ limit: 2 })
      t.same(first.clients.map((record) => record.client_id), ids.slice(0, 2))
      t.same(first.clients[0], saved.find((record) => record.client_id === ids[0]), 'whole records')
      t.equal(first.next, ids[1])
      const second = await other.listClients({ limit: 2, after: first.next ?? '' })
      t.same(second.clients.map((record) => record.client_id), ids.slice(2))
      t.equal(second.next, undefined, 'the last page has no next; a deleted client is not listed')
    })

    register('codes: consume once, replay is told apart from unknown', async (t, store, other) => {
      const hash = hashed()
      const record = code()
      await store.saveCode(hash, record)
      const first = await other.consumeCode(hash)
      t.same(withoutGrant(first), { status: 'consumed', record }, 'first consume returns the whole record')
      if (first.status === 'consumed') first.record.scope = 'admin'
      t.same(await store.consumeCode(hash), { status: 'already_consumed', grantId: record.grantId },
        'second consume is a replay and names the grant to revoke')
      t.same(await other.consumeCode(hash), { status: 'already_consumed', grantId: record.grantId }, 'and stays so')
      t.same(await store.consumeCode(hashed()), { status: 'not_found' }, 'unknown code')

      // Optional fields are optional: a code without nonce or session round-trips as saved.
      const bare = code()
      delete bare.nonce
      delete bare.sessionId
      const bareHash = hashed()
      await store.saveCode(bareHash, bare)
      t.same(withoutGrant(await store.consumeCode(bareHash)), { status: 'consumed', record: bare })
    })

    register(`codes: saveCodeOnce saves only under a fresh mark, one winner of ${RACERS}`, async (t, store, other, stores) => {
      if (store.saveCodeOnce === undefined) { t.pass('optional: this store has no saveCodeOnce'); return }
      const usedKey = `nonce:${id()}`
      const first = hashed()
      t.equal(await store.saveCodeOnce(first, code(), usedKey, nowSeconds() + 60), true, 'a fresh mark: saved')
      t.equal((await other.consumeCode(first)).status, 'consumed', 'the code is there')
      const second = hashed()
      t.equal(await other.saveCodeOnce!(second, code(), usedKey, nowSeconds() + 60), false, 'the same mark again: refused')
      t.equal((await store.consumeCode(second)).status, 'not_found', 'and that code was never saved')
      t.equal(await store.markUsed(usedKey, nowSeconds() + 60), false, 'the mark is the one markUsed sees')

      const raced = `nonce:${id()}`
      const hashes = Array.from({ length: RACERS }, () => hashed())
      const results = await race(stores, async (s, index) => await s.saveCodeOnce!(hashes[index]!, code(), raced, nowSeconds() + 60))
      t.equal(results.filter((saved) => saved).length, 1, 'exactly one caller saved its code')
      const found = await Promise.all(hashes.map(async (hash) => (await store.consumeCode(hash)).status))
      t.equal(found.filter((status) => status === 'consumed').length, 1, 'and exactly one code exists')
    })

    register('codes: a consume that reads the grant reads it as it stands', async (t, store, other) => {
      const live = grant()
      await store.saveGrant(live)
      const liveHash = hashed()
      await store.saveCode(liveHash, code({ grantId: live.grantId, accountId: live.accountId, clientId: live.clientId }))
      const consumed = await other.consumeCode(liveHash)
      t.equal(consumed.status, 'consumed')
      // Optional (issue 32): a store that reads it gives the grant itself; one that does not, nothing.
      if (consumed.grant !== undefined) t.same(consumed.grant, live, 'the live grant, whole')

      const gone = grant()
      await store.saveGrant(gone)
      const goneHash = hashed()
      await store.saveCode(goneHash, code({ grantId: gone.grantId }))
      await store.revokeGrant(gone.grantId)
      const orphan = await other.consumeCode(goneHash)
      t.equal(orphan.status, 'consumed', 'the code itself is consumed')
      t.ok(orphan.grant === undefined || orphan.grant === null, 'a revoked grant is never returned')
      t.equal((await store.consumeCode(goneHash)).grant, undefined, 'a replay carries no grant')
    })

    register(`codes: ${RACERS} concurrent consumes, exactly one winner`, async (t, store, _other, stores) => {
      const hash = hashed()
      const record = code()
      await store.saveCode(hash, record)
      const results = await race(stores, async (s) => await s.consumeCode(hash))
      const winners = results.filter((result) => result.status === 'consumed')
      t.equal(winners.length, 1, 'exactly one caller consumed the code')
      t.same(withoutGrant(winners[0]!), { status: 'consumed', record })
      const losers = results.filter((result) => result.status === 'already_consumed')
      t.equal(losers.length, RACERS - 1, 'every other caller learned it was already consumed')
      t.ok(losers.every((result) => result.status === 'already_consumed' && result.grantId === record.grantId),
        'each loser is given the grant id')
    })

    register('refresh tokens: find, rotate with a replacement, detect reuse', async (t, store, other) => {
      const oldHash = hashed()
      const oldRecord = refresh()
      await store.saveRefreshToken(oldHash, oldRecord)
      t.same(await other.findRefreshToken(oldHash), { status: 'active', record: oldRecord }, 'saved token is active')
      t.equal(await store.findRefreshToken(hashed()), undefined, 'unknown token')

      const found = await store.findRefreshToken(oldHash)
      if (found !== undefined) found.record.scope = 'admin'
      t.equal((await store.findRefreshToken(oldHash))?.record.scope, oldRecord.scope, 'find returns a copy')

      const newHash = hashed()
      const newRecord = refresh({ grantId: oldRecord.grantId, accountId: oldRecord.accountId, clientId: oldRecord.clientId })
      t.same(await other.consumeRefreshToken(oldHash, { tokenHash: newHash, record: newRecord }),
        { status: 'consumed', record: oldRecord }, 'rotation consumes the old token')
      t.same(await store.findRefreshToken(oldHash), { status: 'consumed', record: oldRecord },
        'the old token stays as a consumed tombstone with its record')
      t.same(await store.findRefreshToken(newHash), { status: 'active', record: newRecord },
        'the replacement is stored in the same step and is active')

      t.same(await store.consumeRefreshToken(oldHash, { tokenHash: hashed(), record: refresh() }),
        { status: 'already_consumed', grantId: oldRecord.grantId }, 'reusing the old token is detected')
      t.same(await store.consumeRefreshToken(hashed()), { status: 'not_found' }, 'unknown token')
      const strayHash = hashed()
      t.same(await store.consumeRefreshToken(hashed(), { tokenHash: strayHash, record: refresh() }), { status: 'not_found' })
      t.equal(await store.findRefreshToken(strayHash), undefined, 'a replacement for an unknown token is not stored')

      t.same(await store.consumeRefreshToken(newHash), { status: 'consumed', record: newRecord },
        'consuming without a replacement (revocation) works')
      t.equal((await other.findRefreshToken(newHash))?.status, 'consumed')
    })

    register(`refresh tokens: ${RACERS} concurrent rotations, exactly one winner and one replacement`, async (t, store, other, stores) => {
      const hash = hashed()
      const record = refresh()
      await store.saveRefreshToken(hash, record)
      const replacements = Array.from({ length: RACERS }, () => ({ tokenHash: hashed(), record: refresh({ grantId: record.grantId }) }))
      const results = await race(stores, async (s, index) => await s.consumeRefreshToken(hash, replacements[index]))
      const winnerIndexes = results.flatMap((result, index) => result.status === 'consumed' ? [index] : [])
      t.equal(winnerIndexes.length, 1, 'exactly one rotation won')
      t.equal(results.filter((result) => result.status === 'already_consumed' && result.grantId === record.grantId).length,
        RACERS - 1, 'every other rotation saw reuse, with the grant id')
      const states = await Promise.all(replacements.map(async (replacement) => await other.findRefreshToken(replacement.tokenHash)))
      const winner = winnerIndexes[0] ?? -1
      t.same(states[winner], { status: 'active', record: replacements[winner]?.record }, "the winner's replacement is active")
      t.equal(states.filter((state) => state !== undefined).length, 1, "no loser's replacement was stored")
    })

    register('device authorizations: create, find by user code, slow_down, approve, redeem once', async (t, store, other) => {
      const deviceHash = hashed()
      const record = device()
      t.equal(await store.createDeviceAuthorization(deviceHash, record), true, 'created')
      t.equal(await other.createDeviceAuthorization(hashed(), device({ userCodeHash: record.userCodeHash })), false, 'a user code held by a live record is refused')
      t.same(await other.findDeviceAuthorization(record.userCodeHash), { deviceCodeHash: deviceHash, record, status: 'pending' }, 'found by its user code')
      t.equal(await store.findDeviceAuthorization(hashed()), undefined, 'unknown user code')

      t.same(await other.pollDeviceAuthorization(deviceHash, id()), { status: 'not_found' }, "another client's poll finds nothing")
      t.same(await store.pollDeviceAuthorization(deviceHash, record.clientId), { status: 'pending', interval: 5 }, 'first poll: pending')
      t.same(await other.pollDeviceAuthorization(deviceHash, record.clientId), { status: 'slow_down', interval: 10 }, 'too soon: slow_down, +5 s')
      t.same(await store.pollDeviceAuthorization(deviceHash, record.clientId), { status: 'slow_down', interval: 15 }, 'again: +5 s more, across instances')

      const approved = approval()
      t.equal(await other.decideDeviceAuthorization(deviceHash, { approved }), true, 'approved')
      t.equal(await store.decideDeviceAuthorization(deviceHash, { denied: true }), false, 'an answered request cannot be answered again')
      t.equal((await store.findDeviceAuthorization(record.userCodeHash))?.status, 'approved')
      t.same(await store.pollDeviceAuthorization(deviceHash, record.clientId), { status: 'approved', record, approval: approved }, 'redeemed with record and approval')
      t.same(await other.pollDeviceAuthorization(deviceHash, record.clientId), { status: 'consumed' }, 'never twice')
      t.same(await store.pollDeviceAuthorization(hashed(), record.clientId), { status: 'not_found' }, 'unknown device code')
    })

    register('device authorizations: denied, and expired on the store clock', async (t, store, other) => {
      const deniedHash = hashed()
      const denied = device()
      await store.createDeviceAuthorization(deniedHash, denied)
      t.equal(await other.decideDeviceAuthorization(deniedHash, { denied: true }), true)
      t.same(await store.pollDeviceAuthorization(deniedHash, denied.clientId), { status: 'denied' })
      t.same(await other.pollDeviceAuthorization(deniedHash, denied.clientId), { status: 'denied' }, 'and stays denied')

      const expiredHash = hashed()
      const expired = device({ codeExpiresAt: nowSeconds() - 1 })
      await store.createDeviceAuthorization(expiredHash, expired)
      t.equal(await other.decideDeviceAuthorization(expiredHash, { approved: approval() }), false, 'an expired request cannot be approved')
      t.same(await other.pollDeviceAuthorization(expiredHash, expired.clientId), { status: 'expired' }, 'a late poll learns it expired')
    })

    register('device authorizations: 20 concurrent polls after approval, exactly one redeems', async (t, store, _other, stores) => {
      const deviceHash = hashed()
      const record = device()
      await store.createDeviceAuthorization(deviceHash, record)
      await store.decideDeviceAuthorization(deviceHash, { approved: approval() })
      const results = await Promise.all(Array.from({ length: 20 }, async (_, index) =>
        await (stores[index % stores.length] as Store).pollDeviceAuthorization(deviceHash, record.clientId)))
      t.equal(results.filter((result) => result.status === 'approved').length, 1, 'one winner')
      t.equal(results.filter((result) => result.status === 'consumed').length, 19, 'every other poll sees it redeemed')
    })

    register('clients: updateClientIfExists replaces a live client and never resurrects a deleted one', async (t, store, other, stores) => {
      const record = client()
      t.equal(await store.updateClientIfExists(record), false, 'an unknown client is not created')
      t.equal(await other.getClient(record.client_id), undefined, 'nothing was written')
      await store.saveClient(record)
      const renamed = { ...record, client_name: 'Renamed', redirect_uris: ['https://rp.example/new'] }
      t.equal(await other.updateClientIfExists(renamed), true, 'a live client is updated')
      t.same(await store.getClient(record.client_id), renamed)
      t.equal(await store.deleteClient(record.client_id), true)
      t.equal(await other.updateClientIfExists(renamed), false, 'an update after the delete reports false')
      t.equal(await store.getClient(record.client_id), undefined, 'and the client stays deleted')

      // RFC 7592: PUT racing DELETE, across instances. Whatever the order, the client ends deleted.
      const raced = client()
      await store.saveClient(raced)
      const results = await race(stores, async (s, index) => index === RACERS / 2
        ? await s.deleteClient(raced.client_id)
        : await s.updateClientIfExists({ ...raced, client_name: `update ${index}` }))
      t.equal(results[RACERS / 2], true, 'the delete found the client')
      t.equal(await other.getClient(raced.client_id), undefined, 'no concurrent update brought it back')
      t.equal(await store.updateClientIfExists(raced), false)
    })

    register('grants: extendGrant extends a live grant, never shortens, never resurrects', async (t, store, other) => {
      const live = grant({ expiresAt: nowSeconds() + 60 })
      await store.saveGrant(live)
      const later = nowSeconds() + 7200
      t.equal(await other.extendGrant(live.grantId, later), true, 'a live grant is extended')
      t.equal((await store.getGrant(live.grantId))?.expiresAt, later, 'its record says so')
      t.equal(await store.extendGrant(live.grantId, nowSeconds() + 30), true, 'an earlier end is accepted')
      t.equal((await other.getGrant(live.grantId))?.expiresAt, later, 'but never shortens the grant')
      t.same(await store.findGrant(live.accountId, live.clientId), { ...live, expiresAt: later }, 'still found by its pair')

      const revoked = grant()
      await store.saveGrant(revoked)
      await store.revokeGrant(revoked.grantId)
      t.equal(await other.extendGrant(revoked.grantId, later), false, 'a revoked grant is not extended')
      t.equal(await store.getGrant(revoked.grantId), undefined, 'and stays revoked')
      t.equal(await store.isAccessTokenRevoked(id(), revoked.grantId), true)
      t.equal(await store.extendGrant(id(), later), false, 'an unknown grant is not created')
      t.equal(await other.revokeAccountGrants(live.accountId), 1, 'the extended grant is still indexed by account')
    })

    register('refresh families: start, rotate, retry in the grace window, reuse after the successor was used', async (t, store, other) => {
      const { family: record, first } = await startedFamily(store)
      const found = await other.findFamilyRefreshToken(record.grantId, record.familyId, first)
      t.same(found?.family, record, 'the first token is found with its family')
      t.equal(await store.isAccessTokenRevoked(id(), record.grantId, record.familyId), false, 'its access tokens are alive')

      const one = rotation(record, first, { scope: 'openid' })
      const rotated = await other.rotateRefreshToken(one)
      t.equal(rotated.status, 'rotated', 'the current token rotates')
      if (rotated.status === 'rotated') {
        t.same(rotated.family, record)
        t.equal(rotated.successor.tokenHash, one.successor.tokenHash)
        t.ok(rotated.successor.expiresAt <= record.expiresAt && rotated.successor.expiresAt > nowSeconds(), 'the successor ends within its family')
        t.ok(rotated.grantExpiresAt > nowSeconds(), "the grant's end is reported")
      }
      t.equal(await store.findFamilyRefreshToken(record.grantId, record.familyId, first), undefined, 'a rotated token is not found')
      t.ok(await store.findFamilyRefreshToken(record.grantId, record.familyId, one.successor.tokenHash), 'its successor is')

      const retry = await store.rotateRefreshToken(rotation(record, first, { scope: 'openid' }))
      t.same(retry, { status: 'retried', family: record, sealed: one.successor.sealed, scope: 'openid' },
        'a retry within the window gets the first sealed successor and scope back')
      t.ok(await other.findFamilyRefreshToken(record.grantId, record.familyId, one.successor.tokenHash), 'and changes nothing')

      const two = rotation(record, one.successor.tokenHash)
      t.equal((await store.rotateRefreshToken(two)).status, 'rotated', 'the successor rotates normally')
      const reuse = await other.rotateRefreshToken(rotation(record, first))
      t.same(reuse, { status: 'reused', family: record }, 'the first token after its successor was used is reuse')
      t.equal(await store.isAccessTokenRevoked(id(), record.grantId, record.familyId), true, 'the family is revoked')
      t.equal(await store.findFamilyRefreshToken(record.grantId, record.familyId, two.successor.tokenHash), undefined, 'with its current token')
      t.same(await store.rotateRefreshToken(rotation(record, two.successor.tokenHash)), { status: 'not_found' }, 'which no longer rotates')
      t.ok(await store.getGrant(record.grantId), 'the grant (the consent) stays')
      t.same(await store.rotateRefreshToken(rotation(record, hashed())), { status: 'not_found' }, 'an unknown token')
    })

    register('refresh families: after the window a retry is reuse; grace 0 turns retries off', async (t, store) => {
      const { family: record, first } = await startedFamily(store)
      const one = rotation(record, first, { graceSeconds: 1 })
      t.equal((await store.rotateRefreshToken(one)).status, 'rotated')
      await sleep(1100)
      t.equal((await store.rotateRefreshToken(rotation(record, first, { graceSeconds: 1 }))).status, 'reused', 'after the window: reuse')
      t.equal(await store.isAccessTokenRevoked(id(), record.grantId, record.familyId), true, 'the family is revoked')

      const { family: strict, first: strictFirst } = await startedFamily(store)
      t.equal((await store.rotateRefreshToken(rotation(strict, strictFirst, { graceSeconds: 0 }))).status, 'rotated')
      t.equal((await store.rotateRefreshToken(rotation(strict, strictFirst, { graceSeconds: 0 }))).status, 'reused', 'no window: an immediate retry is reuse')
    })

    register('refresh families: another client or an ungranted scope changes nothing', async (t, store, other) => {
      const { family: record, first } = await startedFamily(store)
      t.same(await other.rotateRefreshToken(rotation(record, first, { clientId: id() })), { status: 'wrong_client' }, 'another client')
      t.same(await store.rotateRefreshToken(rotation(record, first, { scope: 'openid admin' })), { status: 'invalid_scope', scope: 'admin' }, 'a scope not granted')
      t.ok(await store.findFamilyRefreshToken(record.grantId, record.familyId, first), 'the token is still current')
      const one = rotation(record, first)
      t.equal((await store.rotateRefreshToken(one)).status, 'rotated', 'and rotates for its own client')
      t.same(await other.rotateRefreshToken(rotation(record, first, { clientId: id() })), { status: 'wrong_client' }, 'a rotated token shown by another client')
      t.same(await other.rotateRefreshToken(rotation(record, one.successor.tokenHash, { clientId: id() })), { status: 'wrong_client' })
      t.equal(await store.isAccessTokenRevoked(id(), record.grantId, record.familyId), false, 'the family is alive')
    })

    register(`refresh families: ${RACERS} concurrent rotations, one rotation, every other caller a retry`, async (t, store, other, stores) => {
      const { family: record, first } = await startedFamily(store)
      const attempts = Array.from({ length: RACERS }, () => rotation(record, first))
      const results = await race(stores, async (s, index) => await s.rotateRefreshToken(attempts[index] as RefreshRotation))
      const winners = results.flatMap((result, index) => result.status === 'rotated' ? [index] : [])
      t.equal(winners.length, 1, 'exactly one rotation')
      const winner = attempts[winners[0] ?? 0] as RefreshRotation
      t.ok(results.every((result) => result.status === 'rotated' || (result.status === 'retried' && result.sealed === winner.successor.sealed)),
        "every other caller got the winner's sealed successor")
      const current = await Promise.all(attempts.map(async (attempt) => await other.findFamilyRefreshToken(record.grantId, record.familyId, attempt.successor.tokenHash)))
      t.equal(current.filter((found) => found !== undefined).length, 1, 'only the winner\'s successor is current')
      t.equal(await store.isAccessTokenRevoked(id(), record.grantId, record.familyId), false, 'the family is alive')
    })

    register('refresh families: revoking one family leaves the grant and its other families; revoking the grant ends all', async (t, store, other) => {
      const { family: phone, first: phoneToken } = await startedFamily(store)
      const { family: laptop, first: laptopToken } = await startedFamily(store, { grantId: phone.grantId, accountId: phone.accountId, clientId: phone.clientId })
      t.equal(await other.revokeRefreshFamily(phone.grantId, phone.familyId, nowSeconds() + 60), true, 'a live family is revoked')
      t.equal(await store.revokeRefreshFamily(phone.grantId, phone.familyId, nowSeconds() + 60), false, 'once')
      t.equal(await store.isAccessTokenRevoked(id(), phone.grantId, phone.familyId), true, "the phone's tokens are dead")
      t.same(await store.rotateRefreshToken(rotation(phone, phoneToken)), { status: 'not_found' })
      t.equal(await store.isAccessTokenRevoked(id(), laptop.grantId, laptop.familyId), false, "the laptop's family lives")
      t.equal((await other.rotateRefreshToken(rotation(laptop, laptopToken))).status, 'rotated')
      t.equal(await store.isAccessTokenRevoked(id(), phone.grantId, undefined), false, 'the grant lives')
      await other.revokeGrant(laptop.grantId)
      t.equal(await store.isAccessTokenRevoked(id(), laptop.grantId, laptop.familyId), true, 'revoking the grant ends every family')

      // A code replay can revoke the family before the first redemption has started it.
      const early = family()
      await store.saveGrant(grant({ grantId: early.grantId }))
      t.equal(await store.revokeRefreshFamily(early.grantId, early.familyId, nowSeconds() + 60), false, 'nothing live to revoke yet')
      t.equal(await other.startRefreshFamily(early), false, 'the revoked family cannot start')
      t.equal(await store.isAccessTokenRevoked(id(), early.grantId, early.familyId), true)
      t.equal(await store.startRefreshFamily((await startedFamily(store)).family), false, 'a family never starts twice')
    })

    register('refresh families: ending a session revokes its families without offline_access', async (t, store, other) => {
      const sessionId = id()
      const online = await startedFamily(store, { sessionId, offline: false, scope: 'openid profile' })
      const offline = await startedFamily(store, { sessionId, offline: true })
      const elsewhere = await startedFamily(store, { offline: false })
      t.equal(await other.revokeSessionFamilies(sessionId), 1, 'one non-offline family in the session')
      t.equal(await store.isAccessTokenRevoked(id(), online.family.grantId, online.family.familyId), true, 'it ended')
      t.same(await store.rotateRefreshToken(rotation(online.family, online.first)), { status: 'not_found' })
      t.equal((await store.rotateRefreshToken(rotation(offline.family, offline.first))).status, 'rotated', 'the offline family survives')
      t.equal((await other.rotateRefreshToken(rotation(elsewhere.family, elsewhere.first))).status, 'rotated', 'another session\'s family too')
      t.equal(await store.revokeSessionFamilies(sessionId), 0, 'nothing left')
      t.equal(await store.revokeSessionFamilies(id()), 0, 'an unknown session')

      // Ending all of an account's sessions ends their non-offline families the same way.
      const accountId = id()
      const mine = session({ accountId })
      await store.saveSession(mine)
      const online2 = await startedFamily(store, { accountId, sessionId: mine.sessionId, offline: false })
      const offline2 = await startedFamily(store, { accountId, sessionId: mine.sessionId, offline: true })
      t.equal(await other.deleteAccountSessions(accountId), 1)
      t.equal(await store.isAccessTokenRevoked(id(), online2.family.grantId, online2.family.familyId), true, 'deleteAccountSessions ended the online family')
      t.equal(await store.isAccessTokenRevoked(id(), offline2.family.grantId, offline2.family.familyId), false, 'and kept the offline one')
    })

    register('grants: save, get, find by account and client, revoke', async (t, store, other) => {
      const first = grant()
      await store.saveGrant(first)
      t.same(await other.getGrant(first.grantId), first)
      t.same(await other.findGrant(first.accountId, first.clientId), first, 'found by (account, client)')
      t.equal(await store.findGrant(first.accountId, id()), undefined, 'another client: none')
      t.equal(await store.findGrant(id(), first.clientId), undefined, 'another account: none')
      t.equal(await store.getGrant(id()), undefined, 'unknown grant')

      const read = await store.getGrant(first.grantId)
      if (read !== undefined) read.scope = 'admin'
      t.equal((await store.getGrant(first.grantId))?.scope, first.scope, 'getGrant returns a copy')

      const jti = id()
      t.equal(await store.isAccessTokenRevoked(jti, first.grantId), false, 'a token of a live grant is valid')

      // Consent to more scopes: the provider saves a new grant for the same pair.
      const second = grant({ accountId: first.accountId, clientId: first.clientId, scope: 'openid profile email' })
      await store.saveGrant(second)
      t.same(await store.findGrant(first.accountId, first.clientId), second, 'the latest grant of the pair is found')

      t.equal(await other.revokeGrant(second.grantId), true, 'revokeGrant reports an existing grant')
      t.equal(await store.revokeGrant(second.grantId), false, 'revoking again reports false')
      t.equal(await store.getGrant(second.grantId), undefined, 'revoked grant is gone')
      t.equal(await store.findGrant(first.accountId, first.clientId), undefined, 'and is no longer found by its pair')
      t.equal(await store.isAccessTokenRevoked(jti, second.grantId), true, 'its access tokens are dead at once')
      t.equal(await other.isAccessTokenRevoked(jti, first.grantId), false, 'tokens of other grants are not')
      t.same(await store.getGrant(first.grantId), first, 'the other grant of the pair is untouched')
      t.equal(await store.revokeGrant(id()), false, 'unknown grant')
    })

    register('grants: listAccountGrants pages one account\'s live grants with their live families', async (t, store, other) => {
      const accountId = id()
      const first = await startedFamily(store, { accountId, offline: false, sid: 'sid-1', resources: ['https://api.example/'] })
      const rotated = rotation(first.family, first.first)
      t.equal((await store.rotateRefreshToken(rotated)).status, 'rotated')
      const secondGrant = grant({ accountId })
      await store.saveGrant(secondGrant)
      const revokedFamily = await startedFamily(store, { grantId: secondGrant.grantId, accountId, clientId: secondGrant.clientId })
      await store.revokeRefreshFamily(secondGrant.grantId, revokedFamily.family.familyId, nowSeconds() + 60)
      const thirdGrant = grant({ accountId })
      await store.saveGrant(thirdGrant)
      await store.saveGrant(grant())
      const revokedGrant = grant({ accountId })
      await store.saveGrant(revokedGrant)
      await store.revokeGrant(revokedGrant.grantId)

      const all = await other.listAccountGrants(accountId, { limit: 10 })
      t.equal(all.next, undefined, 'one page holds them all')
      const expected = [first.family.grantId, secondGrant.grantId, thirdGrant.grantId].sort()
      t.same(all.grants.map((g) => g.grantId), expected, 'the account\'s live grants, ordered by id; not the revoked one, not another account\'s')
      const listed = all.grants.find((g) => g.grantId === first.family.grantId)
      t.equal(listed?.families.length, 1)
      t.match(listed?.families[0], { familyId: first.family.familyId, offline: false, sid: 'sid-1', resources: ['https://api.example/'], scope: first.family.scope })
      t.ok((listed?.families[0]?.lastUsedAt ?? 0) >= first.family.createdAt, 'last used: the rotation')
      t.same(all.grants.find((g) => g.grantId === secondGrant.grantId)?.families, [], 'a revoked family is not listed')
      t.notOk(JSON.stringify(all).includes(first.first), 'no token hash in the list')

      const pageOne = await store.listAccountGrants(accountId, { limit: 2 })
      t.same(pageOne.grants.map((g) => g.grantId), expected.slice(0, 2))
      t.equal(pageOne.next, expected[1])
      const pageTwo = await store.listAccountGrants(accountId, { limit: 2, ...(pageOne.next === undefined ? {} : { after: pageOne.next }) })
      t.same(pageTwo.grants.map((g) => g.grantId), expected.slice(2))
      t.equal(pageTwo.next, undefined, 'the last page has no next')
      t.same(await store.listAccountGrants(id(), { limit: 10 }), { grants: [] }, 'an account without grants')
    })

    register('grants: revoke every grant of an account or of a client', async (t, store, other) => {
      const alice = id()
      const bob = id()
      const [c1, c2, c3] = [id(), id(), id()]
      const aliceC1 = grant({ accountId: alice, clientId: c1 })
      const aliceC2 = grant({ accountId: alice, clientId: c2 })
      const aliceC3 = grant({ accountId: alice, clientId: c3 })
      const bobC1 = grant({ accountId: bob, clientId: c1 })
      const bobC3 = grant({ accountId: bob, clientId: c3 })
      for (const g of [aliceC1, aliceC2, aliceC3, bobC1, bobC3]) await store.saveGrant(g)

      await store.revokeGrant(aliceC3.grantId)
      t.equal(await other.revokeAccountGrants(alice), 2, 'counts only the live grants of the account')
      t.equal(await store.getGrant(aliceC1.grantId), undefined)
      t.equal(await store.getGrant(aliceC2.grantId), undefined)
      t.equal(await store.findGrant(alice, c1), undefined)
      t.equal(await store.isAccessTokenRevoked(id(), aliceC1.grantId), true, "the account's tokens are dead")
      t.same(await store.getGrant(bobC1.grantId), bobC1, "another account's grants are untouched")
      t.equal(await store.revokeAccountGrants(alice), 0, 'nothing left to revoke')
      t.equal(await store.revokeAccountGrants(id()), 0, 'unknown account')

      t.equal(await other.revokeClientGrants(c1), 1, 'counts the live grants of the client')
      t.equal(await store.getGrant(bobC1.grantId), undefined)
      t.equal(await store.findGrant(bob, c1), undefined)
      t.same(await store.findGrant(bob, c3), bobC3, "another client's grants are untouched")
      t.equal(await store.revokeClientGrants(c1), 0)
      t.equal(await store.revokeClientGrants(id()), 0, 'unknown client')

      // A grant replaced by a newer one for the same pair still belongs to the account: a
      // password change must kill the tokens issued under both.
      const carol = id()
      const older = grant({ accountId: carol, clientId: c2 })
      const newer = grant({ accountId: carol, clientId: c2 })
      await store.saveGrant(older)
      await store.saveGrant(newer)
      const gap = gaps['revoke-replaced-grant']
      const extra = gap === undefined ? {} : { todo: gap }
      t.equal(await store.revokeAccountGrants(carol), 2, 'a replaced grant of the pair is revoked too', extra)
      t.equal(await store.getGrant(older.grantId), undefined, 'the replaced grant is gone', extra)
      t.equal(await store.getGrant(newer.grantId), undefined, 'the newer grant is gone')
    })

    register('access tokens: deny-list by jti, and grant liveness, in one call', async (t, store, other) => {
      const live = grant()
      await store.saveGrant(live)
      const jti = id()
      t.equal(await store.isAccessTokenRevoked(jti, undefined), false, 'a jti never revoked is valid')
      await store.revokeAccessToken(jti, nowSeconds() + 60)
      t.equal(await other.isAccessTokenRevoked(jti, undefined), true, 'a revoked jti is dead')
      t.equal(await other.isAccessTokenRevoked(jti, live.grantId), true, 'even under a live grant')
      t.equal(await store.isAccessTokenRevoked(id(), live.grantId), false, 'other jtis of the grant stay valid')
      t.equal(await store.isAccessTokenRevoked(id(), id()), true, 'a token whose grant does not exist is dead')
      await store.revokeAccessToken(jti, nowSeconds() + 60)
      t.equal(await store.isAccessTokenRevoked(jti, undefined), true, 'revoking twice is harmless')
    })

    register('sessions: save, get, delete; values are copies', async (t, store, other) => {
      const record = session()
      await store.saveSession(record)
      t.same(await other.getSession(record.sessionId), record)
      const read = await store.getSession(record.sessionId)
      if (read !== undefined) read.accountId = 'mallory'
      t.equal((await store.getSession(record.sessionId))?.accountId, record.accountId, 'getSession returns a copy')
      t.equal(await store.getSession(id()), undefined, 'unknown session')
      await other.deleteSession(record.sessionId)
      t.equal(await store.getSession(record.sessionId), undefined, 'deleted session is gone')
      await store.deleteSession(record.sessionId)
      t.pass('deleting a missing session is harmless')
    })

    register('sessions: getSessionWithGrant reads the session and its user\'s grant to one client', async (t, store, other) => {
      if (store.getSessionWithGrant === undefined) { t.pass('optional: this store has no getSessionWithGrant'); return }
      const record = session()
      await store.saveSession(record)
      const clientId = id()
      t.same(await other.getSessionWithGrant!(record.sessionId, clientId), { session: record, grant: undefined }, 'no grant yet')
      const live = grant({ accountId: record.accountId, clientId })
      await store.saveGrant(live)
      await store.saveGrant(grant({ accountId: id(), clientId }))
      await store.saveGrant(grant({ accountId: record.accountId, clientId: id() }))
      await store.addSessionClient(record.sessionId, clientId)
      t.same(await other.getSessionWithGrant!(record.sessionId, clientId), { session: { ...record, clients: [clientId] }, grant: live },
        'the session as getSession answers it, and exactly this user\'s grant to this client')
      t.same(await other.getSessionWithGrant!(record.sessionId, clientId), {
        session: await store.getSession(record.sessionId), grant: await store.findGrant(record.accountId, clientId),
      }, 'the same as getSession and findGrant')
      await other.revokeGrant(live.grantId)
      t.equal((await store.getSessionWithGrant!(record.sessionId, clientId))?.grant, undefined, 'a revoked grant is gone at once')
      // Ids with the characters a key escapes still find the grant.
      const odd = session({ accountId: `user:{${id()}}%` })
      await store.saveSession(odd)
      const oddClient = `https://rp.example/{client}:${id()}`
      const oddGrant = grant({ accountId: odd.accountId, clientId: oddClient })
      await store.saveGrant(oddGrant)
      t.same((await other.getSessionWithGrant!(odd.sessionId, oddClient))?.grant, oddGrant, 'escaped ids: the grant is found')
      t.equal(await store.getSessionWithGrant!(id(), clientId), undefined, 'unknown session')
      await store.deleteSession(record.sessionId)
      t.equal(await other.getSessionWithGrant!(record.sessionId, clientId), undefined, 'ended session')
    })

    register('sessions: getClientWithSession reads the client, the session and its user\'s grant to that client', async (t, store, other) => {
      if (store.getClientWithSession === undefined) { t.pass('optional: this store has no getClientWithSession'); return }
      const registered = client({ client_id: `https://rp.example/{odd}:${id()}%` })
      await store.saveClient(registered)
      const record = session()
      await store.saveSession(record)
      t.same(await other.getClientWithSession!(registered.client_id, record.sessionId), { client: registered, session: { session: record, grant: undefined } },
        'the client, and the session without a grant yet')
      const live = grant({ accountId: record.accountId, clientId: registered.client_id })
      await store.saveGrant(live)
      await store.saveGrant(grant({ accountId: record.accountId, clientId: id() }))
      await store.addSessionClient(record.sessionId, registered.client_id)
      t.same(await other.getClientWithSession!(registered.client_id, record.sessionId), { client: registered, session: { session: { ...record, clients: [registered.client_id] }, grant: live } },
        'the session as getSession answers it, and exactly this user\'s grant to this client')
      const unknown = id()
      t.same(await store.getClientWithSession!(unknown, record.sessionId), { client: undefined, session: { session: { ...record, clients: [registered.client_id] }, grant: undefined } },
        'an unknown client: no client, and no grant to it')
      t.same(await store.getClientWithSession!(registered.client_id, id()), { client: registered, session: undefined }, 'unknown session')
      await other.revokeGrant(live.grantId)
      t.equal((await store.getClientWithSession!(registered.client_id, record.sessionId)).session?.grant, undefined, 'a revoked grant is gone at once')
      await store.deleteSession(record.sessionId)
      await other.deleteClient(registered.client_id)
      t.same(await store.getClientWithSession!(registered.client_id, record.sessionId), { client: undefined, session: undefined }, 'deleted client, ended session')
    })

    register('sessions: every session of one account ends at once, others stay', async (t, store, other) => {
      const accountId = id()
      const mine = [session({ accountId }), session({ accountId }), session({ accountId })]
      const theirs = session()
      for (const record of [...mine, theirs]) await store.saveSession(record)
      await store.deleteSession(mine[2]!.sessionId)
      t.equal(await other.deleteAccountSessions(accountId), 2, 'the two live sessions end')
      for (const record of mine) t.equal(await store.getSession(record.sessionId), undefined)
      t.same(await store.getSession(theirs.sessionId), theirs, 'another account keeps its session')
      t.equal(await store.deleteAccountSessions(accountId), 0, 'nothing left to end')
      t.equal(await store.deleteAccountSessions(id()), 0, 'an account without sessions')
    })

    register('sessions: an account lists its own live sessions, from its index', async (t, store, other) => {
      const accountId = id()
      const mine = [session({ accountId, device: 'Firefox on Linux' }), session({ accountId }), session({ accountId })]
      const theirs = session()
      for (const record of [...mine, theirs]) await store.saveSession(record)
      const byId = (list: SessionRecord[]): SessionRecord[] => list.map(({ clients: _clients, ...rest }) => rest).sort((a, b) => a.sessionId.localeCompare(b.sessionId))
      t.same(byId(await other.listAccountSessions(accountId)), byId(mine), 'every live session of the account, with its device')
      await store.deleteSession(mine[1]!.sessionId)
      await other.takeSession(mine[2]!.sessionId)
      t.same(byId(await store.listAccountSessions(accountId)), byId([mine[0]!]), 'ended sessions are not listed')
      t.same(byId(await store.listAccountSessions(theirs.accountId)), [theirs], 'another account sees only its own')
      t.same(await store.listAccountSessions(id()), [], 'an account without sessions')
      const listed = await store.listAccountSessions(accountId)
      if (listed[0] !== undefined) listed[0].accountId = 'mallory'
      t.equal((await store.listAccountSessions(accountId))[0]?.accountId, accountId, 'the list holds copies')
    })

    register('grants: revokeClientGrants also ends the families a token exchange started for the client under another client\'s grant', async (t, store, other) => {
      // RFC 8693: the exchange's family lives under the user's grant to the subject's client, so
      // deleting the exchanging client revokes no grant of its own that would take it along.
      const { family: subject } = await startedFamily(store)
      const agent = id()
      const exchanged = family({ grantId: subject.grantId, accountId: subject.accountId, clientId: agent, offline: false, exchange: { act: { sub: agent } } })
      const now = nowSeconds()
      t.equal(await store.startRefreshFamily(exchanged, { tokenHash: hashed(), issuedAt: now, expiresAt: now + 600 }), true)
      const alsoAgents = family({ grantId: subject.grantId, accountId: subject.accountId, clientId: agent, exchange: {} })
      t.equal(await other.startRefreshFamily(alsoAgents), true, 'one without refresh tokens (it anchors access tokens)')
      t.equal(await store.isAccessTokenRevoked(id(), exchanged.grantId, exchanged.familyId), false, 'alive before')
      t.equal(await other.revokeClientGrants(agent), 0, 'the client held no grant of its own')
      t.equal(await store.isAccessTokenRevoked(id(), exchanged.grantId, exchanged.familyId), true, 'the exchange\'s family is revoked')
      t.equal(await other.isAccessTokenRevoked(id(), alsoAgents.grantId, alsoAgents.familyId), true, 'every family of the client')
      t.equal(await store.isAccessTokenRevoked(id(), subject.grantId, subject.familyId), false, 'the subject\'s own family stays')
      t.ok(await store.getGrant(subject.grantId), 'and so does the grant')
      t.equal(await store.revokeClientGrants(agent), 0, 'a second call finds nothing')
      t.equal(await store.isAccessTokenRevoked(id(), subject.grantId, subject.familyId), false)
    })

    register('sessions: an expired session is never listed, nor ended again', async (t, store, other) => {
      const accountId = id()
      const live = session({ accountId })
      const expiring = session({ accountId, expiresAt: nowSeconds() + 1 })
      for (const record of [live, expiring]) await store.saveSession(record)
      t.equal((await other.listAccountSessions(accountId)).length, 2, 'both listed while alive')
      await sleep(expiring.expiresAt * 1000 - Date.now() + 50)
      const ids = async (): Promise<string[]> => (await store.listAccountSessions(accountId)).map((record) => record.sessionId)
      t.same(await ids(), [live.sessionId], 'the expired one is left out')
      t.same(await ids(), [live.sessionId], 'and stays out')
      t.equal(await other.takeSession(expiring.sessionId), undefined, 'an expired session cannot be taken')
    })

    register('sessions: touchSession records the last use of a live session only', async (t, store, other) => {
      const record = session()
      await store.saveSession(record)
      await store.addSessionClient(record.sessionId, 'a')
      const seen = nowSeconds() + 5
      t.equal(await other.touchSession(record.sessionId, seen), true, 'a live session is touched')
      const read = await store.getSession(record.sessionId)
      t.equal(read?.lastSeenAt, seen, 'getSession has lastSeenAt')
      t.equal(read?.expiresAt, record.expiresAt, 'the expiry stays')
      t.same(read?.clients, ['a'], 'the clients stay')
      t.equal((await store.listAccountSessions(record.accountId))[0]?.lastSeenAt, seen, 'the list has it too')
      t.equal(await store.touchSession(id(), seen), false, 'an unknown session')
      await store.takeSession(record.sessionId)
      t.equal(await other.touchSession(record.sessionId, seen + 1), false, 'an ended session')
      t.equal(await store.getSession(record.sessionId), undefined, 'touching never brings a session back')
    })

    register('interactions: save, get, consume once; values are copies', async (t, store, other) => {
      const record = interaction({ accountId: id(), sessionId: id(), authTime: nowSeconds() })
      await store.saveInteraction(record)
      record.params.scope = 'admin'
      const read = await other.getInteraction(record.interactionId)
      t.equal(read?.params.scope, 'openid', 'mutating the saved input does not change the store')
      if (read !== undefined) read.params.redirect_uri = 'https://evil.example/cb'
      const again = await store.getInteraction(record.interactionId)
      t.same(again, { ...record, params: { ...record.params, scope: 'openid' } }, 'getInteraction returns a deep copy')

      // Logging in updates the interaction: saveInteraction replaces it.
      const updated = { ...record, params: { ...record.params, scope: 'openid' }, accountId: 'someone' }
      await store.saveInteraction(updated)
      t.same(await store.consumeInteraction(record.interactionId), updated, 'consume returns the latest record')
      t.equal(await other.consumeInteraction(record.interactionId), undefined, 'a second consume gets nothing')
      t.equal(await store.getInteraction(record.interactionId), undefined, 'a consumed interaction is gone')
      t.equal(await store.consumeInteraction(id()), undefined, 'unknown interaction')
    })

    register(`interactions: ${RACERS} concurrent consumes, exactly one winner`, async (t, store, _other, stores) => {
      const record = interaction()
      await store.saveInteraction(record)
      const results = await race(stores, async (s) => await s.consumeInteraction(record.interactionId))
      const winners = results.filter((result) => result !== undefined)
      t.equal(winners.length, 1, 'exactly one caller got the interaction')
      t.same(winners[0], record)
    })

    register('markUsed: a one-time value is accepted once', async (t, store, other) => {
      const key = `nonce:${id()}`
      t.equal(await store.markUsed(key, nowSeconds() + 60), true, 'first use')
      t.equal(await other.markUsed(key, nowSeconds() + 60), false, 'replay')
      t.equal(await store.markUsed(`nonce:${id()}`, nowSeconds() + 60), true, 'another key is independent')
    })

    register(`markUsed: ${RACERS} concurrent callers, exactly one gets true`, async (t, _store, _other, stores) => {
      const key = `jti:${id()}`
      const results = await race(stores, async (s) => await s.markUsed(key, nowSeconds() + 60))
      t.equal(results.filter((result) => result).length, 1)
    })

    register('counters: fixed window, read, reset', async (t, store, other) => {
      const key = `login:${id()}`
      const before = nowSeconds()
      t.equal(await store.getCounter(key), undefined, 'no counter yet')
      const one = await store.incrementCounter(key, 60)
      t.equal(one.count, 1)
      t.ok(one.resetAt >= before + 59 && one.resetAt <= nowSeconds() + 61, `resetAt ends the window (${one.resetAt - before}s)`)
      const two = await other.incrementCounter(key, 60)
      const three = await store.incrementCounter(key, 60)
      t.same([two.count, three.count], [2, 3], 'increments within the window')
      t.equal(three.resetAt, one.resetAt, 'the window does not slide')
      t.same(await other.getCounter(key), { count: 3, resetAt: one.resetAt }, 'getCounter reads without changing')
      t.same(await store.getCounter(key), { count: 3, resetAt: one.resetAt })
      if (store.getCounters !== undefined) {
        // Issue 19: the optional batch read answers like getCounter, in the order of the keys.
        t.same(await store.getCounters([`login:${id()}`, key]), [undefined, { count: 3, resetAt: one.resetAt }], 'getCounters reads several, in order')
      }
      if (store.getClientWithCounters !== undefined) {
        // Issue 32: the client and its counters in one step, as getClient and getCounters answer.
        const saved = client()
        await store.saveClient(saved)
        t.same(await other.getClientWithCounters!(saved.client_id, [`login:${id()}`, key]),
          { client: saved, counters: [undefined, { count: 3, resetAt: one.resetAt }] }, 'getClientWithCounters: the client and the counters, in order')
        t.same(await other.getClientWithCounters!(id(), [key]),
          { client: undefined, counters: [{ count: 3, resetAt: one.resetAt }] }, 'an unknown client: undefined, counters still read')
        t.same(await store.getClientWithCounters!(saved.client_id, [`login:${id()}`]),
          { client: saved, counters: [undefined] }, 'no counters on record')
      }
      t.equal((await store.incrementCounter(`login:${id()}`, 60)).count, 1, 'counters are independent')

      await other.resetCounter(key)
      t.equal(await store.getCounter(key), undefined, 'reset removes the counter')
      t.equal((await store.incrementCounter(key, 60)).count, 1, 'and counting starts again')
      await store.resetCounter(`login:${id()}`)
      t.pass('resetting a missing counter is harmless')

      const racing = `login:${id()}`
      const counts = await race([store, other], async (s) => (await s.incrementCounter(racing, 60)).count)
      t.same([...counts].sort((a, b) => a - b), Array.from({ length: RACERS }, (_, i) => i + 1),
        'concurrent increments are never lost')
    })

    register('ping: answers while the backend is up, and writes nothing', async (t, store, other) => {
      // Optional in the contract (readiness falls back to a read); our stores all implement it.
      if (store.ping === undefined) {
        t.pass('this store has no ping(); readiness uses a harmless read instead')
        return
      }
      await t.resolves(store.ping(), 'ping resolves')
      await t.resolves(Promise.all([store.ping(), other.ping?.()]), 'concurrent pings on both instances resolve')
      t.equal(await store.getCounter('health'), undefined, 'no record appears')
    })

    register('expiry: every record kind is gone after its expiresAt; clients stay', async (t, store, other) => {
      const now = nowSeconds()
      const past = now - 1
      // expiresAt is in whole seconds: `now + 2` leaves between 1 and 2 seconds to live.
      const soon = now + 2

      // Already expired when saved: never visible.
      const deadCode = hashed()
      await store.saveCode(deadCode, code({ expiresAt: past }))
      const deadRefresh = hashed()
      await store.saveRefreshToken(deadRefresh, refresh({ expiresAt: past }))
      const deadGrant = grant({ expiresAt: past })
      await store.saveGrant(deadGrant)
      const deadSession = session({ expiresAt: past })
      await store.saveSession(deadSession)
      const deadInteraction = interaction({ expiresAt: past })
      await store.saveInteraction(deadInteraction)
      const deadJti = id()
      await store.revokeAccessToken(deadJti, past)
      const deadNonce = `nonce:${id()}`
      await store.markUsed(deadNonce, past)

      t.same(await other.consumeCode(deadCode), { status: 'not_found' }, 'expired code')
      t.equal(await other.findRefreshToken(deadRefresh), undefined, 'expired refresh token')
      t.same(await other.consumeRefreshToken(deadRefresh), { status: 'not_found' })
      t.equal(await other.getGrant(deadGrant.grantId), undefined, 'expired grant')
      t.equal(await other.findGrant(deadGrant.accountId, deadGrant.clientId), undefined)
      t.equal(await other.isAccessTokenRevoked(id(), deadGrant.grantId), true, 'tokens of an expired grant are dead')
      t.equal(await other.getSession(deadSession.sessionId), undefined, 'expired session')
      t.equal(await other.getInteraction(deadInteraction.interactionId), undefined, 'expired interaction')
      t.equal(await other.isAccessTokenRevoked(deadJti, undefined), false, 'an expired deny-list entry is gone')
      t.equal(await other.markUsed(deadNonce, nowSeconds() + 60), true, 'an expired one-time value can be used again')

      // Expiring soon: visible now, gone after one shared wait.
      const liveClient = client()
      await store.saveClient(liveClient)
      const codeHash = hashed()
      await store.saveCode(codeHash, code({ expiresAt: soon }))
      const tombstoneHash = hashed()
      const tombstone = code({ expiresAt: soon })
      await store.saveCode(tombstoneHash, tombstone)
      await store.consumeCode(tombstoneHash)
      const refreshHash = hashed()
      await store.saveRefreshToken(refreshHash, refresh({ expiresAt: soon }))
      const usedRefreshHash = hashed()
      const usedRefresh = refresh({ expiresAt: soon })
      await store.saveRefreshToken(usedRefreshHash, usedRefresh)
      await store.consumeRefreshToken(usedRefreshHash)
      const shortGrant = grant({ expiresAt: soon })
      await store.saveGrant(shortGrant)
      const jti = id()
      await store.revokeAccessToken(jti, soon)
      const shortSession = session({ expiresAt: soon })
      await store.saveSession(shortSession)
      const shortInteraction = interaction({ expiresAt: soon })
      await store.saveInteraction(shortInteraction)
      const nonce = `nonce:${id()}`
      await store.markUsed(nonce, soon)
      const counterKey = `login:${id()}`
      const counterStartedMs = Date.now()
      await store.incrementCounter(counterKey, 2)

      t.equal((await other.findRefreshToken(refreshHash))?.status, 'active', 'refresh token visible before expiry')
      t.same(await other.consumeCode(tombstoneHash), { status: 'already_consumed', grantId: tombstone.grantId },
        'a consumed code is a tombstone until it expires')
      t.same(await other.consumeRefreshToken(usedRefreshHash), { status: 'already_consumed', grantId: usedRefresh.grantId },
        'a consumed refresh token is a tombstone until it expires')
      t.ok(await other.getGrant(shortGrant.grantId), 'grant visible before expiry')
      t.equal(await other.isAccessTokenRevoked(jti, undefined), true, 'deny-list entry visible before expiry')
      t.ok(await other.getSession(shortSession.sessionId), 'session visible before expiry')
      t.ok(await other.getInteraction(shortInteraction.interactionId), 'interaction visible before expiry')
      t.equal(await other.markUsed(nonce, soon), false, 'one-time value recorded before expiry')
      t.equal((await other.getCounter(counterKey))?.count, 1, 'counter visible before its window ends')

      const deadline = Math.max(soon * 1000, counterStartedMs + 2000) + 150
      await sleep(deadline - Date.now())

      t.same(await other.consumeCode(codeHash), { status: 'not_found' }, 'code expired')
      t.same(await other.consumeCode(tombstoneHash), { status: 'not_found' }, 'code tombstone expired')
      t.equal(await other.findRefreshToken(refreshHash), undefined, 'refresh token expired')
      t.same(await other.consumeRefreshToken(refreshHash), { status: 'not_found' })
      t.equal(await other.findRefreshToken(usedRefreshHash), undefined, 'refresh tombstone expired')
      t.equal(await other.getGrant(shortGrant.grantId), undefined, 'grant expired')
      t.equal(await other.findGrant(shortGrant.accountId, shortGrant.clientId), undefined, 'and its pair index with it')
      t.equal(await other.isAccessTokenRevoked(id(), shortGrant.grantId), true, 'tokens of the expired grant are dead')
      t.equal(await other.revokeGrant(shortGrant.grantId), false, 'an expired grant cannot be revoked again')
      t.equal(await other.revokeAccountGrants(shortGrant.accountId), 0, 'nor counted by its account')
      t.equal(await other.isAccessTokenRevoked(jti, undefined), false, 'deny-list entry expired with the token')
      t.equal(await other.getSession(shortSession.sessionId), undefined, 'session expired')
      t.equal(await other.getInteraction(shortInteraction.interactionId), undefined, 'interaction expired')
      t.equal(await other.consumeInteraction(shortInteraction.interactionId), undefined)
      t.equal(await other.markUsed(nonce, nowSeconds() + 60), true, 'one-time value expired')
      t.equal(await other.getCounter(counterKey), undefined, 'counter window ended')
      t.equal((await other.incrementCounter(counterKey, 60)).count, 1, 'a new window starts at 1')
      t.same(await other.getClient(liveClient.client_id), liveClient, 'clients never expire')
    })
  })
}
