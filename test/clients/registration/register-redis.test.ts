import t from 'tap'
import { buildApp } from '../../helpers/app.js'
import { deleteKeys, requireRedis, testPrefix } from '../../helpers/redis.js'
import { RedisStore } from '../../../lib/adapters/store/redis.js'
import { nowSeconds, sha256 } from '../../../lib/tokens/crypto.js'

// The registration lifecycle on the production store: what is stored is hashed, and deleting
// a client kills its grants and access tokens in Redis too.
const client = await requireRedis(t)

if (client !== undefined) {
  t.test('register, read, update and delete a client on RedisStore', async (t) => {
    const prefix = testPrefix()
    t.teardown(() => deleteKeys(client, prefix))
    const store = new RedisStore({ client, prefix })
    const app = await buildApp(t, { registration: {}, store })

    const registered = await app.inject({
      method: 'POST',
      url: '/register',
      payload: { client_name: 'mobile-app', redirect_uris: ['com.myapp://callback'], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], scope: 'openid profile email' },
    })
    t.equal(registered.statusCode, 201)
    const body = registered.json()
    const stored = await store.getClient(body.client_id)
    t.equal(stored?.client_secret_hash, sha256(body.client_secret))
    t.equal(stored?.registration_access_token_hash, sha256(body.registration_access_token))
    t.equal(stored?.application_type, 'native')
    const keys = await client.keys(`${prefix}*`)
    t.ok(keys.length > 0)
    const raw = await Promise.all(keys.map(async (key) => {
      const type = await client.type(key)
      const value = type === 'hash' ? await client.hgetall(key) : type === 'string' ? await client.get(key) : type === 'set' ? await client.smembers(key) : type
      return `${key} ${JSON.stringify(value)}`
    }))
    t.match(raw.join(' '), body.client_id, 'the client is in Redis')
    t.notMatch(raw.join(' '), body.client_secret, 'its secret is not')
    t.notMatch(raw.join(' '), body.registration_access_token, 'nor its registration access token')

    const path = new URL(body.registration_client_uri).pathname
    const authorization = `Bearer ${body.registration_access_token}`
    const read = await app.inject({ url: path, headers: { authorization } })
    t.equal(read.statusCode, 200)
    t.equal(read.json().client_name, 'mobile-app')

    const { registration_access_token: _a, registration_client_uri: _b, client_id_issued_at: _c, client_secret_expires_at: _d, ...metadata } = body
    const updated = await app.inject({ method: 'PUT', url: path, headers: { authorization }, payload: { ...metadata, client_name: 'mobile-app v2' } })
    t.equal(updated.statusCode, 200)
    t.equal((await store.getClient(body.client_id))?.client_name, 'mobile-app v2')

    const now = nowSeconds()
    await store.saveGrant({ grantId: `g-${prefix}`, accountId: 'user-1', clientId: body.client_id, scope: 'openid', createdAt: now, expiresAt: now + 600 })
    t.equal(await store.isAccessTokenRevoked('jti-1', `g-${prefix}`), false)

    const deleted = await app.inject({ method: 'DELETE', url: path, headers: { authorization } })
    t.equal(deleted.statusCode, 204)
    t.equal(await store.getClient(body.client_id), undefined)
    t.equal(await store.findGrant('user-1', body.client_id), undefined, 'the grant is revoked')
    t.equal(await store.isAccessTokenRevoked('jti-1', `g-${prefix}`), true, 'its access tokens are dead')
    t.equal((await app.inject({ url: path, headers: { authorization } })).statusCode, 401)
  })
}
