import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildApp } from '../helpers/app.js'
import { MemoryStore, type KeySource, type StaticClient } from '../../lib/index.js'
import { localKey } from '../../lib/adapters/keys/local.js'
import { algorithmMetadata, checkAlgorithmMembers, supportedAlgorithms } from '../../lib/tokens/algorithms.js'
import { OAuthError } from '../../lib/contracts/errors.js'

/**
 * RFC 7591 §2 / §3.2.2, OpenID Connect Dynamic Client Registration §2: a client asking for an
 * algorithm the provider cannot honour is refused, naming the member; discovery publishes the
 * same list registration checks against.
 */

const base = { redirect_uris: ['https://rp.example.com/cb'] }

async function register (app: FastifyInstance, body: unknown): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) })
}

type Assert = Pick<typeof t, 'equal' | 'match' | 'same'>

function refused (t: Assert, res: LightMyRequestResponse, member: string, message: string): void {
  t.equal(res.statusCode, 400, `${message}: 400`)
  t.match(res.headers['content-type'], /^application\/json/, `${message}: JSON`)
  t.equal(res.headers['cache-control'], 'no-store', `${message}: no-store`)
  t.equal(res.json().error, 'invalid_client_metadata', `${message}: invalid_client_metadata`)
  t.match(res.json().error_description, new RegExp(`^${member}\\b`), `${message}: names ${member}`)
}

function ecKeys (): KeySource {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return {
    async load () {
      const key = await localKey(privateKey, 'ES256')
      return { signingKey: key.signingKey, publicKeys: [key.publicJwk] }
    },
  }
}

t.test('registration refuses none and HS256 for the ID token, and every unsupported algorithm member', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close?.())
  const app = await buildApp(t, { registration: {}, store })
  refused(t, await register(app, { ...base, id_token_signed_response_alg: 'none' }), 'id_token_signed_response_alg', 'none')
  t.match((await register(app, { ...base, id_token_signed_response_alg: 'none' })).json().error_description, /'none' is not allowed/)
  refused(t, await register(app, { ...base, id_token_signed_response_alg: 'HS256' }), 'id_token_signed_response_alg', 'HS256')
  t.match((await register(app, { ...base, id_token_signed_response_alg: 'HS256' })).json().error_description, /supported: RS256/)
  refused(t, await register(app, { ...base, id_token_signed_response_alg: 'ES256' }), 'id_token_signed_response_alg', 'no ES256 key')
  refused(t, await register(app, { ...base, userinfo_signed_response_alg: 'RS256' }), 'userinfo_signed_response_alg', 'signed userinfo')
  refused(t, await register(app, { ...base, userinfo_signed_response_alg: 'none' }), 'userinfo_signed_response_alg', 'userinfo none')
  // private_key_jwt (RFC 7523) takes asymmetric algorithms only: a shared-secret one is refused.
  refused(t, await register(app, { ...base, token_endpoint_auth_signing_alg: 'HS256' }), 'token_endpoint_auth_signing_alg', 'no shared-secret JWT client auth')
  refused(t, await register(app, { ...base, token_endpoint_auth_signing_alg: 'none' }), 'token_endpoint_auth_signing_alg', 'RFC 7591 §2: never none')
  // Request objects (issue 25): asymmetric algorithms; none only when the host allows unsigned ones.
  t.equal((await register(app, { ...base, request_object_signing_alg: 'RS256' })).statusCode, 201, 'request objects signed with RS256')
  refused(t, await register(app, { ...base, request_object_signing_alg: 'HS256' }), 'request_object_signing_alg', 'no shared-secret request objects')
  refused(t, await register(app, { ...base, request_object_signing_alg: 'none' }), 'request_object_signing_alg', 'request objects none')
  refused(t, await register(app, { ...base, introspection_signed_response_alg: 'RS256' }), 'introspection_signed_response_alg', 'RFC 9701')
  refused(t, await register(app, { ...base, authorization_signed_response_alg: 'RS256' }), 'authorization_signed_response_alg', 'JARM')
  for (const member of ['id_token_encrypted_response_alg', 'userinfo_encrypted_response_alg', 'request_object_encryption_alg', 'introspection_encrypted_response_alg', 'authorization_encrypted_response_alg']) {
    refused(t, await register(app, { ...base, [member]: 'RSA-OAEP-256' }), member, `${member}: no encryption`)
  }
  for (const member of ['id_token_encrypted_response_enc', 'userinfo_encrypted_response_enc', 'request_object_encryption_enc']) {
    refused(t, await register(app, { ...base, [member]: 'A128GCM' }), member, `${member}: no encryption`)
  }
})

t.test('a member of the wrong JSON type is the same error; null means absent', async (t) => {
  const app = await buildApp(t, { registration: {} })
  for (const value of [256, true, ['RS256'], { alg: 'RS256' }]) {
    refused(t, await register(app, { ...base, id_token_signed_response_alg: value }), 'id_token_signed_response_alg', `id_token alg ${JSON.stringify(value)}`)
    t.match((await register(app, { ...base, id_token_signed_response_alg: value })).json().error_description, /must be a string/)
  }
  refused(t, await register(app, { ...base, userinfo_encrypted_response_enc: 1 }), 'userinfo_encrypted_response_enc', 'enc as a number')
  const withNull = await register(app, { ...base, id_token_signed_response_alg: null, userinfo_signed_response_alg: null })
  t.equal(withNull.statusCode, 201, 'null members are treated as omitted')
  t.equal(withNull.json().id_token_signed_response_alg, undefined)
})

t.test('a supported choice is stored on the client and echoed, also by RFC 7592 read and update', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close?.())
  const app = await buildApp(t, { registration: {}, store })
  const res = await register(app, { ...base, id_token_signed_response_alg: 'RS256' })
  t.equal(res.statusCode, 201)
  const info = res.json()
  t.equal(info.id_token_signed_response_alg, 'RS256', 'RFC 7591 §3.2.1: the registered metadata is returned')
  t.equal((await store.getClient(info.client_id))?.id_token_signed_response_alg, 'RS256', 'kept on the client record')
  const auth = { authorization: `Bearer ${info.registration_access_token}` }
  const read = await app.inject({ url: `/register/${info.client_id}`, headers: auth })
  t.equal(read.json().id_token_signed_response_alg, 'RS256')
  const update = await app.inject({
    method: 'PUT',
    url: `/register/${info.client_id}`,
    headers: { ...auth, 'content-type': 'application/json' },
    payload: JSON.stringify({ ...base, client_id: info.client_id, id_token_signed_response_alg: 'HS256' }),
  })
  refused(t, update, 'id_token_signed_response_alg', 'an update is checked too')
  t.equal((await store.getClient(info.client_id))?.id_token_signed_response_alg, 'RS256', 'the refused update changed nothing')
})

t.test('discovery and registration agree: every published value is accepted, and the list follows the keys', async (t) => {
  for (const [name, keys] of [['RSA keys', undefined], ['an EC key', ecKeys()]] as const) {
    const app = await buildApp(t, { registration: {}, ...(keys === undefined ? {} : { keys }) })
    const doc = (await app.inject('/.well-known/openid-configuration')).json() as Record<string, unknown>
    const idTokenAlgs = doc.id_token_signing_alg_values_supported as string[]
    t.same(idTokenAlgs, keys === undefined ? ['RS256'] : ['ES256'], `${name}: the algorithms of the signing keys`)
    for (const alg of idTokenAlgs) {
      t.equal((await register(app, { ...base, id_token_signed_response_alg: alg })).statusCode, 201, `${name}: published ${alg} is accepted`)
    }
    const unpublished = keys === undefined ? 'ES256' : 'RS256'
    refused(t, await register(app, { ...base, id_token_signed_response_alg: unpublished }), 'id_token_signed_response_alg', `${name}: unpublished ${unpublished}`)
    // Only supported features are advertised; what is advertised is accepted.
    const pairs: Array<[string, string]> = [
      ['userinfo_signing_alg_values_supported', 'userinfo_signed_response_alg'],
      ['token_endpoint_auth_signing_alg_values_supported', 'token_endpoint_auth_signing_alg'],
      ['request_object_signing_alg_values_supported', 'request_object_signing_alg'],
    ]
    for (const [published, member] of pairs) {
      const values = doc[published] as string[] | undefined
      if (values === undefined) {
        refused(t, await register(app, { ...base, [member]: 'RS256' }), member, `${name}: ${published} not published, ${member} refused`)
      } else {
        for (const alg of values) t.equal((await register(app, { ...base, [member]: alg })).statusCode, 201, `${name}: ${member} ${alg}`)
      }
    }
    t.equal(doc.id_token_encryption_alg_values_supported, undefined, 'no encryption is advertised')
  }
})

t.test('static clients go through the same rules at startup, naming the option', async (t) => {
  const client = (extra: Record<string, unknown>): StaticClient => ({ client_id: 'host', client_secret: 'host-secret-0123456789', ...base, ...extra }) as StaticClient
  const failure = async (extra: Record<string, unknown>): Promise<Error | undefined> => {
    try {
      await buildApp(t, { clients: [client(extra)] })
    } catch (error) {
      return error as Error
    }
    return undefined
  }
  const none = await failure({ id_token_signed_response_alg: 'none' })
  t.match(none, { code: 'FST_OIDC_INVALID_OPTION' })
  t.match(none?.message, /option "clients\[0\]" is invalid: id_token_signed_response_alg: 'none' is not allowed/)
  t.match((await failure({ id_token_signed_response_alg: 'HS256' }))?.message, /clients\[0\].*id_token_signed_response_alg: 'HS256' is not supported/)
  t.match((await failure({ userinfo_encrypted_response_alg: 'RSA-OAEP' }))?.message, /clients\[0\].*userinfo_encrypted_response_alg/)
  t.match((await failure({ request_object_signing_alg: 'HS256' }))?.message, /clients\[0\].*request_object_signing_alg/)
  t.match((await failure({ id_token_signed_response_alg: 5 }))?.message, /clients\[0\]\.id_token_signed_response_alg/, 'a wrong type names the member')
  const ec = await buildApp(t, { keys: ecKeys(), clients: [client({ id_token_signed_response_alg: 'ES256' })] })
  t.ok(ec.oidc, 'a static client may choose an algorithm the keys support')
})

t.test('the rules as a module: supportedAlgorithms, algorithmMetadata, checkAlgorithmMembers', async (t) => {
  const rsa = supportedAlgorithms({ algorithms: () => ['RS256'] })
  t.same(rsa.idTokenSigning, ['RS256'])
  t.same(supportedAlgorithms({ algorithms: () => ['RS256', 'ES256', 'ES256', 'none'] }).idTokenSigning, ['RS256', 'ES256'],
    'several signing keys: each algorithm once, never none')
  t.same(algorithmMetadata({ ...rsa, tokenEndpointAuthSigning: [] }), { id_token_signing_alg_values_supported: ['RS256'] }, 'unsupported features are not advertised')
  t.notOk(rsa.tokenEndpointAuthSigning.includes('HS256'), 'private_key_jwt: asymmetric algorithms only')
  t.ok(rsa.tokenEndpointAuthSigning.includes('ES256'))
  t.same(algorithmMetadata({ ...rsa, tokenEndpointAuthSigning: ['ES256'] }), {
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_signing_alg_values_supported: ['ES256'],
  })
  t.same(checkAlgorithmMembers({ id_token_signed_response_alg: 'RS256', client_name: 'x' }, rsa), { id_token_signed_response_alg: 'RS256' })
  t.same(checkAlgorithmMembers({}, rsa), {})
  t.throws(() => checkAlgorithmMembers({ id_token_signed_response_alg: 'none' }, { ...rsa, idTokenSigning: ['none'] }), OAuthError,
    'none is refused where a signature is expected even if a list held it')
  t.same(checkAlgorithmMembers({ id_token_encrypted_response_alg: 'RSA-OAEP' }, { ...rsa, encryptionAlg: ['RSA-OAEP'] }), {},
    'an encryption member passes once the list holds it')
})
