import t from 'tap'
import { validateClientMetadata } from '../../lib/clients/registration/metadata.js'
import { OAuthError } from '../../lib/contracts/errors.js'

const rules = { supportedScopes: ['openid', 'profile', 'email', 'offline_access'], allowFirstParty: false }
const web = { redirect_uris: ['https://app.example.com/cb'] }

type Assert = Pick<typeof t, 'type' | 'equal' | 'match' | 'fail'>

/** Asserts the metadata is refused with `code`, and returns the description for further checks. */
function refused (
  t: Assert,
  input: unknown,
  code: 'invalid_redirect_uri' | 'invalid_client_metadata',
  message: string,
  withRules: typeof rules = rules
): string {
  try {
    validateClientMetadata(input, withRules)
  } catch (error) {
    t.type(error, OAuthError, message)
    t.equal((error as OAuthError).error, code, message)
    // RFC 7591 §3.2.2 / RFC 6749 §5.2: printable ASCII without `"` and `\`.
    t.match((error as OAuthError).error_description, /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/, `${message}: description is wire-safe`)
    return (error as OAuthError).error_description
  }
  t.fail(`${message}: accepted`)
  return ''
}

t.test('defaults follow RFC 7591 §2', async (t) => {
  t.same(validateClientMetadata(web, rules), {
    redirect_uris: ['https://app.example.com/cb'],
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid profile email offline_access',
    application_type: 'web',
  })
})

t.test('the seed bodies are accepted; a private-use scheme makes the client native', async (t) => {
  const spa = validateClientMetadata({
    client_name: 'spa-app',
    redirect_uris: ['http://localhost:3000/callback'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid profile email',
  }, rules)
  t.equal(spa.application_type, 'web')
  t.equal(spa.scope, 'openid profile email')
  const mobile = validateClientMetadata({
    client_name: 'mobile-app',
    redirect_uris: ['com.myapp://callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'openid profile email',
  }, rules)
  t.equal(mobile.application_type, 'native')
  t.same(mobile.grant_types, ['authorization_code', 'refresh_token'])
})

t.test('loopback http is allowed for web and native clients, in every loopback spelling', async (t) => {
  for (const uri of ['http://localhost:8080/cb', 'http://127.0.0.1/cb', 'http://[::1]:9000/cb']) {
    t.same(validateClientMetadata({ redirect_uris: [uri] }, rules).redirect_uris, [uri])
    t.same(validateClientMetadata({ redirect_uris: [uri], application_type: 'native' }, rules).redirect_uris, [uri])
  }
  t.equal(validateClientMetadata({ redirect_uris: ['https://app.example.com/cb'], application_type: 'native' }, rules).application_type, 'native',
    'native apps may use claimed https redirects (RFC 8252 §7.2)')
})

t.test('invalid redirect URIs answer invalid_redirect_uri', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['relative', { redirect_uris: ['/callback'] }],
    ['scheme-relative', { redirect_uris: ['//app.example.com/cb'] }],
    ['fragment', { redirect_uris: ['https://app.example.com/cb#x'] }],
    ['empty fragment', { redirect_uris: ['https://app.example.com/cb#'] }],
    ['javascript:', { redirect_uris: ['javascript:alert(1)'] }],
    ['data:', { redirect_uris: ['data:text/html,hi'] }],
    ['http non-loopback for web', { redirect_uris: ['http://app.example.com/cb'] }],
    ['http non-loopback for native', { redirect_uris: ['http://app.example.com/cb'], application_type: 'native' }],
    ['custom scheme for web', { redirect_uris: ['com.myapp://callback'], application_type: 'web' }],
    ['private-use scheme that is not a reversed domain', { redirect_uris: ['myapp://callback'] }],
    ['credentials', { redirect_uris: ['https://user:pw@app.example.com/cb'] }],
    ['whitespace', { redirect_uris: ['https://app.example.com/c b'] }],
    ['too long', { redirect_uris: [`https://app.example.com/${'a'.repeat(2000)}`] }],
    ['too many', { redirect_uris: Array.from({ length: 21 }, (_, i) => `https://app.example.com/${i}`) }],
  ]
  for (const [name, input] of cases) refused(t, input, 'invalid_redirect_uri', name)
})

t.test('a confidential client may register the grants of issue 28', async (t) => {
  const grants = ['urn:ietf:params:oauth:grant-type:token-exchange', 'urn:ietf:params:oauth:grant-type:jwt-bearer']
  t.same(validateClientMetadata({ grant_types: grants }, rules).grant_types, grants)
})

t.test('invalid metadata answers invalid_client_metadata', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['not an object', ['https://app.example.com/cb']],
    ['null', null],
    ['missing redirect_uris for the code grant', {}],
    ['redirect_uris not an array', { redirect_uris: 'https://app.example.com/cb' }],
    ['redirect_uris with a non-string', { redirect_uris: [42] }],
    ['unsupported grant type', { ...web, grant_types: ['implicit'] }],
    ['password grant', { ...web, grant_types: ['authorization_code', 'password'] }],
    ['empty grant_types', { ...web, grant_types: [] }],
    ['refresh_token without authorization_code', { grant_types: ['client_credentials', 'refresh_token'] }],
    ['code grant without code response type', { ...web, response_types: [] }],
    ['code response type without code grant', { grant_types: ['client_credentials'], response_types: ['code'] }],
    ['unsupported response type', { ...web, response_types: ['code', 'token'] }],
    ['hybrid response type', { ...web, response_types: ['code id_token'] }],
    ['unsupported auth method', { ...web, token_endpoint_auth_method: 'private_key_jwt' }],
    ['public client with client_credentials', { token_endpoint_auth_method: 'none', grant_types: ['client_credentials'] }],
    ['public client with token exchange', { token_endpoint_auth_method: 'none', grant_types: ['urn:ietf:params:oauth:grant-type:token-exchange'] }],
    ['public client with jwt-bearer', { token_endpoint_auth_method: 'none', grant_types: ['urn:ietf:params:oauth:grant-type:jwt-bearer'] }],
    ['bad application_type', { ...web, application_type: 'desktop' }],
    ['non-http logo_uri', { ...web, logo_uri: 'javascript:alert(1)' }],
    ['data: logo_uri', { ...web, logo_uri: 'data:image/png;base64,AAAA' }],
    ['non-http tos_uri', { ...web, tos_uri: 'ftp://example.com/tos' }],
    ['non-http policy_uri', { ...web, policy_uri: 'javascript:void(0)' }],
    ['non-http client_uri', { ...web, client_uri: 'file:///etc/passwd' }],
    ['relative client_uri', { ...web, client_uri: '/about' }],
    ['client_name not a string', { ...web, client_name: 42 }],
    ['client_name too long', { ...web, client_name: 'x'.repeat(201) }],
    ['scope not a string', { ...web, scope: ['openid'] }],
    ['scope with nothing supported', { ...web, scope: 'admin root' }],
    ['contacts not an array', { ...web, contacts: 'ops@example.com' }],
    ['too many contacts', { ...web, contacts: Array.from({ length: 11 }, (_, i) => `c${i}@example.com`) }],
    ['grant_types not an array', { ...web, grant_types: 'authorization_code' }],
    ['token_endpoint_auth_method not a string', { ...web, token_endpoint_auth_method: true }],
    ['first_party true', { ...web, first_party: true }],
    ['first_party false', { ...web, first_party: false }],
  ]
  for (const [name, input] of cases) refused(t, input, 'invalid_client_metadata', name)
})

t.test('echoed input is made wire-safe and short', async (t) => {
  const description = refused(t, { ...web, grant_types: ['"é\\' + 'x'.repeat(200)] }, 'invalid_client_metadata', 'odd grant type')
  t.notMatch(description, /[é"\\]/)
  t.ok(description.length < 200)
})

t.test('unknown members are dropped, scopes are narrowed to supported ones, duplicates removed', async (t) => {
  const metadata = validateClientMetadata({
    ...web,
    redirect_uris: ['https://app.example.com/cb', 'https://app.example.com/cb'],
    scope: 'openid admin openid  email',
    software_statement: 'eyJ...',
    client_id: 'chosen-by-client',
    client_secret: 'chosen-by-client-too',
    __internal: true,
    contacts: ['ops@example.com'],
    logo_uri: 'https://app.example.com/logo.png',
    client_uri: 'http://app.example.com/',
  }, rules)
  t.same(metadata, {
    redirect_uris: ['https://app.example.com/cb'],
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid email',
    application_type: 'web',
    client_uri: 'http://app.example.com/',
    logo_uri: 'https://app.example.com/logo.png',
    contacts: ['ops@example.com'],
  })
})

t.test('client_credentials-only clients need no redirect URI and get no response type', async (t) => {
  const metadata = validateClientMetadata({ grant_types: ['client_credentials'], client_name: 'batch' }, rules)
  t.same(metadata.redirect_uris, [])
  t.same(metadata.response_types, [])
  t.equal(metadata.token_endpoint_auth_method, 'client_secret_basic')
})

t.test('first_party is only for the host\'s static clients', async (t) => {
  t.equal(validateClientMetadata({ ...web, first_party: true }, { ...rules, allowFirstParty: true }).first_party, true)
  refused(t, { ...web, first_party: 'yes' }, 'invalid_client_metadata', 'first_party must be a boolean', { ...rules, allowFirstParty: true })
})

t.test('null members count as absent', async (t) => {
  const metadata = validateClientMetadata({ ...web, client_name: null, grant_types: null, token_endpoint_auth_method: null }, rules)
  t.equal(metadata.client_name, undefined)
  t.same(metadata.grant_types, ['authorization_code'])
  t.equal(metadata.token_endpoint_auth_method, 'client_secret_basic')
})
