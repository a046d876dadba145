import t from 'tap'
import { MemoryStore } from '../../../lib/adapters/store/memory.js'
import { nowSeconds, randomToken, sha256 } from '../../../lib/tokens/crypto.js'
import { storeContract } from './contract.js'

await storeContract(t, 'MemoryStore', async () => {
  const store = new MemoryStore()
  return { store, cleanup: async () => { await store.close() } }
})

t.test('the sweeper bounds memory: expired records leave, clients stay', async (t) => {
  const store = new MemoryStore({ sweepIntervalMs: 100 })
  t.teardown(() => store.close())
  await store.saveClient({
    client_id: 'rp',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['https://rp.example/cb'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid',
    application_type: 'web',
    client_id_issued_at: nowSeconds(),
  })
  const soon = nowSeconds() + 1
  for (let i = 0; i < 200; i++) {
    const grantId = randomToken(8)
    await store.saveGrant({ grantId, accountId: `user${i}`, clientId: 'rp', scope: 'openid', createdAt: nowSeconds(), expiresAt: soon })
    const codeHash = sha256(randomToken())
    await store.saveCode(codeHash, {
      clientId: 'rp',
      grantId,
      accountId: `user${i}`,
      redirectUri: 'https://rp.example/cb',
      codeChallenge: 'x',
      codeChallengeMethod: 'S256',
      scope: 'openid',
      authTime: nowSeconds(),
      expiresAt: soon,
    })
    // A consumed code is a tombstone: it must leave too.
    if (i % 2 === 0) await store.consumeCode(codeHash)
    await store.saveRefreshToken(sha256(randomToken()), {
      clientId: 'rp',
      grantId,
      accountId: `user${i}`,
      scope: 'openid',
      authTime: nowSeconds(),
      issuedAt: nowSeconds(),
      expiresAt: soon,
      familyExpiresAt: soon,
    })
    const sessionId = randomToken(8)
    await store.saveSession({ sessionId, accountId: `user${i}`, authTime: nowSeconds(), expiresAt: soon })
    // A family, its first token and its entry in the session's index: all must leave too.
    await store.startRefreshFamily(
      { familyId: randomToken(8), grantId, clientId: 'rp', accountId: `user${i}`, scope: 'openid', authTime: nowSeconds(), sessionId, offline: false, createdAt: nowSeconds(), expiresAt: soon },
      { tokenHash: sha256(randomToken()), issuedAt: nowSeconds(), expiresAt: soon })
    await store.saveInteraction({ interactionId: randomToken(8), clientId: 'rp', params: {}, csrfToken: 'c', expiresAt: soon })
    await store.revokeAccessToken(randomToken(8), soon)
    await store.markUsed(randomToken(8), soon)
    await store.incrementCounter(randomToken(8), 1)
  }
  t.ok(store.size > 1000, `records are held while live (${store.size})`)
  // Nobody reads these records again: only the timer can remove them.
  await new Promise((resolve) => setTimeout(resolve, soon * 1000 - Date.now() + 300))
  // The sweeper runs every 100 ms; on a loaded machine its timer can be late, so wait for it
  // (bounded) rather than asserting on one tick.
  for (let waited = 0; store.size > 1 && waited < 5000; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(store.size, 1, 'only the client is left')
})
