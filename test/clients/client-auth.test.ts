import t from 'tap'
import type { SecurityEvents } from '../../lib/index.js'
import { parseBasic } from '../../lib/clients/authenticate.js'
import { ISSUER } from '../helpers/app.js'
import { CONFIDENTIAL, PUBLIC_ID, SERVICE, basic, exchangeCode, issueCode, postForm, testClients, tokenApp } from '../helpers/codes.js'

const weird = { client_id: 'svc:1 +%é', client_secret: 'p@ss:w+rd %20 é-0123456789' }
const clients = [...testClients(), { ...weird, grant_types: ['client_credentials' as const], scope: 'api.read' }]
const challenge = `Basic realm="${ISSUER}"`

t.test('client_secret_basic form-urlencodes id and secret before base64 (RFC 6749 §2.3.1)', async (t) => {
  const { app } = await tokenApp(t, { clients })
  const res = await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: basic(weird.client_id, weird.client_secret) })
  t.equal(res.statusCode, 200)
  t.equal(res.json().scope, 'api.read')

  // The raw (not form-encoded) form also decodes right when it has no reserved characters.
  const plain = await postForm(app, '/token', { grant_type: 'client_credentials' }, {
    authorization: `Basic ${Buffer.from(`${SERVICE.client_id}:${SERVICE.client_secret}`).toString('base64')}`,
  })
  t.equal(plain.statusCode, 200)
})

t.test('parseBasic', async (t) => {
  t.same(parseBasic(basic('a b', 'c:d')), { clientId: 'a b', secret: 'c:d' })
  t.same(parseBasic('basic ' + Buffer.from('x:y').toString('base64')), { clientId: 'x', secret: 'y' }, 'scheme is case-insensitive')
  t.equal(parseBasic('Basic !!!'), undefined)
  t.equal(parseBasic(`Basic ${Buffer.from('no-colon').toString('base64')}`), undefined)
  t.equal(parseBasic(`Basic ${Buffer.from(':secret').toString('base64')}`), undefined, 'empty client_id')
  t.equal(parseBasic(`Basic ${Buffer.from('%E0%A4%A:x').toString('base64')}`), undefined, 'bad percent-encoding')
  t.equal(parseBasic('Bearer abc'), undefined)
})

t.test('client_secret_post', async (t) => {
  const { app } = await tokenApp(t)
  const ok = await postForm(app, '/token', { grant_type: 'client_credentials', ...SERVICE })
  t.equal(ok.statusCode, 200)
})

t.test('failures: 401 invalid_client, WWW-Authenticate only when Basic was used, no-store', async (t) => {
  const { app, store } = await tokenApp(t)
  const failures: Array<SecurityEvents['client_auth.failure']> = []
  app.oidc.on('client_auth.failure', (event) => failures.push(event))

  const wrongBasic = await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: basic(SERVICE.client_id, 'wrong-secret-0123456789') })
  t.equal(wrongBasic.statusCode, 401)
  t.same(wrongBasic.json(), { error: 'invalid_client', error_description: 'client authentication failed' })
  t.equal(wrongBasic.headers['www-authenticate'], challenge)
  t.equal(wrongBasic.headers['cache-control'], 'no-store')

  const wrongPost = await postForm(app, '/token', { grant_type: 'client_credentials', client_id: SERVICE.client_id, client_secret: 'wrong' })
  t.equal(wrongPost.statusCode, 401)
  t.equal(wrongPost.json().error, 'invalid_client')
  t.equal(wrongPost.headers['www-authenticate'], undefined)

  const unknown = await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: basic('nobody', 'whatever-0123456789') })
  t.equal(unknown.statusCode, 401)
  t.same(unknown.json(), wrongBasic.json(), 'an unknown client looks like a wrong secret')
  t.equal(unknown.headers['www-authenticate'], challenge)

  const none = await postForm(app, '/token', { grant_type: 'client_credentials' })
  t.equal(none.statusCode, 401)
  t.equal(none.json().error, 'invalid_client')

  const confidentialWithoutSecret = await postForm(app, '/token', { grant_type: 'client_credentials', client_id: SERVICE.client_id })
  t.equal(confidentialWithoutSecret.statusCode, 401)
  t.equal(confidentialWithoutSecret.json().error, 'invalid_client')

  const malformed = await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: 'Basic %%%' })
  t.equal(malformed.statusCode, 401)
  t.equal(malformed.headers['www-authenticate'], challenge)

  const otherScheme = await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: 'Bearer abc' })
  t.equal(otherScheme.statusCode, 401)
  t.equal(otherScheme.json().error, 'invalid_client')

  // A public client must not send a secret, even an empty one.
  const issued = await issueCode(store, { clientId: PUBLIC_ID })
  const publicWithSecret = await exchangeCode(app, issued, { clientId: PUBLIC_ID, secret: 'anything-0123456789' })
  t.equal(publicWithSecret.statusCode, 401)
  t.equal(publicWithSecret.json().error, 'invalid_client')

  t.equal(failures.length, 8, 'every failure goes through the hook')
  t.match(failures[0], { clientId: SERVICE.client_id, ip: '127.0.0.1', endpoint: 'token' })
  t.notMatch(JSON.stringify(failures), /wrong-secret/, 'secrets never reach events')
})

t.test('two authentication methods at once → invalid_request (RFC 6749 §2.3)', async (t) => {
  const { app } = await tokenApp(t)
  const both = await postForm(app, '/token', { grant_type: 'client_credentials', client_secret: SERVICE.client_secret }, { authorization: basic(SERVICE.client_id, SERVICE.client_secret) })
  t.equal(both.statusCode, 400)
  t.equal(both.json().error, 'invalid_request')

  const mismatch = await postForm(app, '/token', { grant_type: 'client_credentials', client_id: CONFIDENTIAL.client_id }, { authorization: basic(SERVICE.client_id, SERVICE.client_secret) })
  t.equal(mismatch.statusCode, 400)
  t.equal(mismatch.json().error, 'invalid_request')

  const same = await postForm(app, '/token', { grant_type: 'client_credentials', client_id: SERVICE.client_id }, { authorization: basic(SERVICE.client_id, SERVICE.client_secret) })
  t.equal(same.statusCode, 200, 'a client_id in the body naming the same client is fine')

  const repeated = await postForm(app, '/token', { grant_type: 'client_credentials', client_id: [SERVICE.client_id, SERVICE.client_id], client_secret: SERVICE.client_secret })
  t.equal(repeated.statusCode, 400)
  t.equal(repeated.json().error, 'invalid_request')
})

t.test('public clients are refused where the endpoint requires a confidential client', async (t) => {
  const { app } = await tokenApp(t)
  const introspect = await postForm(app, '/introspect', { token: 'x', client_id: PUBLIC_ID })
  t.equal(introspect.statusCode, 401)
  t.equal(introspect.json().error, 'invalid_client')
  const revoke = await postForm(app, '/revoke', { token: 'x', client_id: PUBLIC_ID })
  t.equal(revoke.statusCode, 200, 'revocation accepts public clients by client_id (RFC 7009 §2.1)')
})
