import t from 'tap'
import * as client from 'openid-client'
import { startServer } from '../../helpers/server.js'
import { sha256 } from '../../../lib/tokens/crypto.js'
import { MemoryStore } from '../../../lib/index.js'

// openid-client v6 as a real relying party would use it: discovery, then RFC 7591 registration,
// over a real loopback socket (http, hence allowInsecureRequests).
/** The error a promise rejects with (undefined if it resolves, which fails the match after). */
async function rejection (promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  return undefined
}

const insecure = { execute: [client.allowInsecureRequests] }

t.test('openid-client registers both seed clients', async (t) => {
  const store = new MemoryStore()
  const { issuer } = await startServer(t, { registration: {}, store })

  const spa = await client.dynamicClientRegistration(new URL(issuer), {
    client_name: 'spa-app',
    redirect_uris: ['http://localhost:3000/callback'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid profile email',
  }, undefined, insecure)
  t.equal(spa.serverMetadata().issuer, issuer, 'discovery went through')
  const spaMetadata = spa.clientMetadata()
  t.match(spaMetadata, {
    client_id: String,
    client_secret: String,
    client_secret_expires_at: 0,
    registration_client_uri: `${issuer}/register/${spaMetadata.client_id}`,
    registration_access_token: String,
    token_endpoint_auth_method: 'client_secret_basic',
    application_type: 'web',
  })
  const stored = await store.getClient(spaMetadata.client_id)
  t.equal(stored?.client_secret_hash, sha256(String(spaMetadata.client_secret)))

  const mobile = await client.dynamicClientRegistration(new URL(issuer), {
    client_name: 'mobile-app',
    redirect_uris: ['com.myapp://callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'openid profile email',
  }, undefined, insecure)
  t.match(mobile.clientMetadata(), {
    client_name: 'mobile-app',
    application_type: 'native',
    redirect_uris: ['com.myapp://callback'],
    grant_types: ['authorization_code', 'refresh_token'],
  })
  t.not(mobile.clientMetadata().client_id, spaMetadata.client_id)

  // RFC 7592 over the wire, with what openid-client kept from the registration response.
  const configurationUri = String(spaMetadata.registration_client_uri)
  const authorization = { authorization: `Bearer ${String(spaMetadata.registration_access_token)}` }
  const read = await fetch(configurationUri, { headers: authorization })
  t.equal(read.status, 200)
  t.match(await read.json(), { client_id: spaMetadata.client_id, client_name: 'spa-app' })
  const deleted = await fetch(configurationUri, { method: 'DELETE', headers: authorization })
  t.equal(deleted.status, 204)
  t.equal(await store.getClient(spaMetadata.client_id), undefined)
  t.equal((await fetch(configurationUri, { headers: authorization })).status, 401)
})

t.test('openid-client sends the initial access token and surfaces RFC 7591 errors', async (t) => {
  const { issuer } = await startServer(t, { registration: { initialAccessToken: 'initial-access-token-for-tests' } })
  const metadata = { redirect_uris: ['http://127.0.0.1:8080/cb'], token_endpoint_auth_method: 'none' }

  const registered = await client.dynamicClientRegistration(new URL(issuer), metadata, client.None(), { ...insecure, initialAccessToken: 'initial-access-token-for-tests' })
  t.equal(registered.clientMetadata().token_endpoint_auth_method, 'none')
  t.equal(registered.clientMetadata().client_secret, undefined)

  const wrongToken = await rejection(client.dynamicClientRegistration(new URL(issuer), metadata, client.None(), { ...insecure, initialAccessToken: 'wrong-initial-access-token' }))
  t.match(wrongToken, { status: 401 }, 'a wrong initial access token is refused')
  const badRedirect = await rejection(client.dynamicClientRegistration(new URL(issuer), { redirect_uris: ['https://app.example.com/cb#fragment'] }, undefined, { ...insecure, initialAccessToken: 'initial-access-token-for-tests' }))
  t.type(badRedirect, client.ResponseBodyError)
  t.match(badRedirect, { error: 'invalid_redirect_uri', status: 400 }, 'openid-client reads the RFC 7591 error body')
})
