import t from 'tap'
import { rm } from 'node:fs/promises'
import { buildExampleApi } from '../../examples/api.js'
import { freePort } from '../helpers/server.js'
import { basic } from '../helpers/codes.js'
import { exampleKeysDir } from '../helpers/example-keys.js'

const form = (fields: Record<string, string>): RequestInit['body'] => new URLSearchParams(fields).toString()
const formHeaders = (authorization: string): Record<string, string> => ({ 'content-type': 'application/x-www-form-urlencoded', authorization })

/**
 * The example API as `npm run example:api` builds it (buildExampleApi, from the same
 * environment variables), both apps on real loopback sockets: the API fetches the provider's
 * JWKS and calls its /introspect over HTTP, as a separate deployment would. Built in-process:
 * a tsx child cost 10+ s on a loaded machine; the process boundary (environment, exit codes,
 * `.env`) is what test/examples/example-env.test.ts starts children for.
 */
t.test('the example API: notes protected by the resource-server plugin, talking to the provider over HTTP', async (t) => {
  const [port, apiPort] = [await freePort(), await freePort()]
  const issuer = `http://127.0.0.1:${port}`
  const api = `http://127.0.0.1:${apiPort}`
  const keysDir = await exampleKeysDir()
  t.teardown(() => rm(keysDir, { recursive: true, force: true }))
  const env = { PORT: String(port), API_PORT: String(apiPort), ISSUER: issuer, KEYS_DIR: keysDir, HOST: '127.0.0.1', LOG_LEVEL: 'silent' }
  const example = await buildExampleApi({ ...env, API_CLIENT_ID: 'notes-api', API_CLIENT_SECRET: 'a-test-introspection-secret' })
  t.teardown(example.close)
  await example.provider.listen({ port, host: '127.0.0.1' })
  await example.api.listen({ port: apiPort, host: '127.0.0.1' })
  t.equal(example.resource, `${api}/`, 'the API is the resource server declared at the provider')

  // A client registers (open registration in the example) and gets a token for the API.
  const registered = await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_types: ['client_credentials'], scope: 'notes:read notes:write', token_endpoint_auth_method: 'client_secret_basic', client_name: 'notes job' }),
  })
  t.equal(registered.status, 201)
  const client = await registered.json() as { client_id: string, client_secret: string }
  const token = async (scope: string): Promise<string> => {
    const res = await fetch(`${issuer}/token`, { method: 'POST', headers: formHeaders(basic(client.client_id, client.client_secret)), body: form({ grant_type: 'client_credentials', resource: api, scope }) })
    t.equal(res.status, 200)
    return (await res.json() as { access_token: string }).access_token
  }
  const reader = await token('notes:read')
  const writer = await token('notes:read notes:write')

  const none = await fetch(`${api}/notes`)
  t.equal(none.status, 401)
  // RFC 6750 §3 and RFC 9449 §7.1: no credentials → both schemes offered, each with the metadata.
  const challenge = none.headers.get('www-authenticate') ?? ''
  t.ok(challenge.startsWith(`Bearer scope="notes:read", resource_metadata="${api}/.well-known/oauth-protected-resource", DPoP algs="`), challenge)
  t.match(challenge, /DPoP algs="[^"]*ES256[^"]*", scope="notes:read", resource_metadata=/)
  const metadata = await fetch(`${api}/.well-known/oauth-protected-resource`)
  t.same(await metadata.json(), { resource: `${api}/`, authorization_servers: [issuer], scopes_supported: ['notes:read', 'notes:write'], bearer_methods_supported: ['header'], resource_name: 'Notes API' })

  const denied = await fetch(`${api}/notes`, { method: 'POST', headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' }, body: '{"text":"hi"}' })
  t.equal(denied.status, 403)
  t.match(denied.headers.get('www-authenticate'), /error="insufficient_scope".*scope="notes:write"/)
  const created = await fetch(`${api}/notes`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' }, body: '{"text":"hello"}' })
  t.equal(created.status, 201)
  const listed = await fetch(`${api}/notes`, { headers: { authorization: `Bearer ${reader}` } })
  t.same(await listed.json(), { sub: client.client_id, notes: ['hello'] })

  // Anyone with the API's credentials can introspect by hand.
  const introspected = await fetch(`${issuer}/introspect`, { method: 'POST', headers: formHeaders(basic('notes-api', 'a-test-introspection-secret')), body: form({ token: reader }) })
  t.match(await introspected.json(), { active: true, aud: `${api}/`, scope: 'notes:read', client_id: client.client_id })

  t.equal((await fetch(`${api}/notes/live`, { headers: { authorization: `Bearer ${reader}` } })).status, 200)
  const revoked = await fetch(`${issuer}/revoke`, { method: 'POST', headers: formHeaders(basic(client.client_id, client.client_secret)), body: form({ token: writer }) })
  t.equal(revoked.status, 200)
  const live = await fetch(`${api}/notes/live`, { headers: { authorization: `Bearer ${writer}` } })
  t.equal(live.status, 401, 'the revoked token is refused by the revocation-aware route')
  t.equal((await fetch(`${api}/notes`, { headers: { authorization: `Bearer ${writer}` } })).status, 200, 'the plain route trusts the JWT until it expires')
})
