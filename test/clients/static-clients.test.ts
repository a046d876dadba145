import t from 'tap'
import { buildApp } from '../helpers/app.js'
import type { StaticClient } from '../../lib/index.js'
import { loadStaticClients } from '../../lib/clients/lookup.js'
import { sha256 } from '../../lib/tokens/crypto.js'

const scopes = ['openid', 'profile', 'email']
const hostApp: StaticClient = {
  client_id: 'host-web',
  client_secret: 'host-web-secret-0123456789',
  client_name: 'Host web app',
  redirect_uris: ['https://app.example.com/callback'],
  first_party: true,
}

/** What `register` fails with (undefined when it succeeds, which fails the assertions after). */
async function registerError (clients: unknown[]): Promise<{ code?: string, message?: string } | undefined> {
  try {
    await buildApp(t, { clients: clients as StaticClient[] })
  } catch (error) {
    return error as { code: string, message: string }
  }
  return undefined
}

t.test('static clients are validated with the registration rules; the secret is only hashed', async (t) => {
  const records = loadStaticClients([hostApp, { client_id: 'host-spa', token_endpoint_auth_method: 'none', redirect_uris: ['http://localhost:5173/cb'] }], scopes)
  const web = records.get('host-web')
  t.match(web, {
    client_id: 'host-web',
    client_secret_hash: sha256('host-web-secret-0123456789'),
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid profile email',
    application_type: 'web',
    first_party: true,
  })
  t.notMatch(JSON.stringify(web), 'host-web-secret-0123456789', 'the plain secret is not kept')
  t.equal(records.get('host-spa')?.client_secret_hash, undefined)
  t.equal(records.get('host-spa')?.first_party, undefined)
})

t.test('a first_party static client starts the provider, while dynamic registration refuses the flag', async (t) => {
  const app = await buildApp(t, { clients: [hostApp], registration: {} })
  const res = await app.inject({
    method: 'POST',
    url: '/register',
    payload: { redirect_uris: ['https://third-party.example/cb'], first_party: true },
  })
  t.equal(res.statusCode, 400)
  t.equal(res.json().error, 'invalid_client_metadata')
  t.match(res.json().error_description, /first_party/)
})

t.test('a bad static client fails register with a message naming the option', async (t) => {
  const ok = { client_id: 'fine', client_secret: 'fine-secret-0123456789', redirect_uris: ['https://fine.example/cb'] }
  const cases: Array<[string, unknown[], RegExp]> = [
    ['http redirect on a public host', [{ ...hostApp, redirect_uris: ['http://app.example.com/cb'] }], /"clients\[0\]" is invalid: redirect_uri/],
    ['javascript: redirect', [ok, { ...hostApp, redirect_uris: ['javascript:alert(1)'] }], /"clients\[1\]" is invalid: redirect_uri scheme/],
    ['fragment', [{ ...hostApp, redirect_uris: ['https://app.example.com/cb#x'] }], /"clients\[0\]" is invalid: .*fragment/],
    ['no redirect_uris for the code grant', [{ ...hostApp, redirect_uris: [] }], /"clients\[0\]" is invalid: redirect_uris is required/],
    ['inconsistent grant and response types', [{ ...hostApp, response_types: [] }], /"clients\[0\]" is invalid: grant_types and response_types are inconsistent/],
    ['public client with client_credentials', [{ client_id: 'svc', token_endpoint_auth_method: 'none', grant_types: ['client_credentials'] }], /"clients\[0\]" is invalid: a public client/],
    ['non-http logo_uri', [{ ...hostApp, logo_uri: 'javascript:alert(1)' }], /"clients\[0\]" is invalid: logo_uri/],
    ['confidential without a secret', [{ ...hostApp, client_secret: undefined }], /"clients\[0\]\.client_secret" is required/],
    ['public with a secret', [{ ...hostApp, token_endpoint_auth_method: 'none' }], /"clients\[0\]\.client_secret" must not be set/],
    ['duplicate client_id', [ok, ok], /"clients\[1\]\.client_id" duplicates "fine"/],
    ['short secret (schema)', [{ ...hostApp, client_secret: 'short' }], /"clients\[0\]\.client_secret"/],
    ['unknown member (schema)', [{ ...hostApp, is_admin: true }], /unknown option 'clients\[0\]\.is_admin'/],
    ['first_party of the wrong type (schema)', [{ ...hostApp, first_party: 'yes' }], /"clients\[0\]\.first_party"/],
  ]
  for (const [name, clients, message] of cases) {
    const error = await registerError(clients)
    t.equal(error?.code, 'FST_OIDC_INVALID_OPTION', `${name}: an option error`)
    t.match(error?.message, message, `${name}: names the option`)
  }
})
