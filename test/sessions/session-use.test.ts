import t from 'tap'
import { MemoryStore } from '../../lib/index.js'
import type { ProviderContext } from '../../lib/contracts/context.js'
import type { SessionRecord } from '../../lib/contracts/store.js'
import { lastSeenInterval, noteSessionUse } from '../../lib/sessions/account-sessions.js'
import { nowSeconds, randomToken } from '../../lib/tokens/crypto.js'

// noteSessionUse records a use of a session the store handed out without writing to that
// record: a store may hand out frozen or shared records.

t.test('noteSessionUse returns the session as used and leaves its input alone', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const ctx = { store } as unknown as ProviderContext
  const now = nowSeconds()
  const stale: SessionRecord = Object.freeze({ sessionId: randomToken(16), accountId: 'demo', authTime: now - 2 * lastSeenInterval, expiresAt: now + 600, sid: 's' })
  await store.saveSession(stale)

  const used = await noteSessionUse(ctx, stale, now)
  t.equal(used.lastSeenAt, now, 'the use is in the session returned')
  t.equal(stale.lastSeenAt, undefined, 'the frozen input is untouched (and no TypeError)')
  t.equal((await store.getSession(stale.sessionId))?.lastSeenAt, now, 'and in the store')

  const fresh = { ...used }
  t.equal(await noteSessionUse(ctx, fresh, now + 10), fresh, 'within the interval: the same record back, nothing written')
  t.equal((await store.getSession(stale.sessionId))?.lastSeenAt, now)

  const ended = Object.freeze({ ...stale, sessionId: randomToken(16) })
  const notTouched = await noteSessionUse(ctx, ended, now)
  t.equal(notTouched.lastSeenAt, undefined, 'a session the store no longer has: nothing recorded')
  t.equal(await store.getSession(ended.sessionId), undefined, 'and nothing brought back')
})
