import t from 'tap'
import * as client from 'openid-client'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { MemoryStore, OAuthError, type StaticClient } from '../../lib/index.js'
import { buildApp } from '../helpers/app.js'
import { startServer } from '../helpers/server.js'
import { runCodeFlow } from '../helpers/flow.js'
import { testUsers } from '../helpers/users.js'
import { basic, jwtClaims, postForm } from '../helpers/codes.js'
import { checkPkcePolicy, mayOmitCodeChallenge } from '../../lib/tokens/pkce.js'

/**
 * RFC 9700 §2.1.1: public clients MUST use PKCE; a confidential OpenID Connect client MAY use the
 * nonce instead. The provider allows it per client, by the host's decision only (a static
 * client's `pkce: 'nonce-allowed'`, or the registration hook), never by default.
 */

const REDIRECT = 'https://legacy.example.com/cb'
const legacy: StaticClient = {
  client_id: 'legacy-web',
  client_secret: 'legacy-web-secret-0123456789',
  redirect_uris: [REDIRECT],
  grant_types: ['authorization_code', 'refresh_token'],
  scope: 'openid profile',
  first_party: true,
  pkce: 'nonce-allowed',
}
const strict: StaticClient = { ...legacy, client_id: 'strict-web', pkce: 'required' }
const byDefault: StaticClient = { ...legacy, client_id: 'default-web' }
delete byDefault.pkce

async function exchange (app: FastifyInstance, who: StaticClient, code: string, verifier?: string): Promise<LightMyRequestResponse> {
  return await postForm(app, '/token', {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    ...(verifier === undefined ? {} : { code_verifier: verifier }),
  }, { authorization: basic(who.client_id, who.client_secret ?? '') })
}

t.test('a legacy confidential client with nonce-allowed logs in without PKCE; openid-client checks the nonce', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { app, issuer } = await startServer(t, { store, users: testUsers, clients: [legacy] })
  const flow = await runCodeFlow(app, { clientId: legacy.client_id, redirectUri: REDIRECT, scope: 'openid profile', nonce: 'legacy-nonce-1', state: 'st-1', pkce: false })
  t.ok(flow.code, 'a code without code_challenge')
  const config = await client.discovery(new URL(issuer), legacy.client_id, undefined, client.ClientSecretBasic(legacy.client_secret ?? ''), { execute: [client.allowInsecureRequests] })
  // openid-client without pkceCodeVerifier: what a client that cannot send PKCE does.
  const tokens = await client.authorizationCodeGrant(config, flow.location, { expectedNonce: 'legacy-nonce-1', expectedState: 'st-1', idTokenExpected: true })
  t.equal(tokens.claims()?.nonce, 'legacy-nonce-1', 'the ID token carries the nonce the client checks')
  t.equal(tokens.claims()?.sub, 'demo')
})

t.test('nonce-allowed still needs a nonce and openid; a sent challenge still needs its verifier; no downgrade', async (t) => {
  const app = await buildApp(t, { users: testUsers, clients: [legacy] })
  const noNonce = await runCodeFlow(app, { clientId: legacy.client_id, redirectUri: REDIRECT, scope: 'openid profile', pkce: false })
  t.equal(noNonce.location.searchParams.get('error'), 'invalid_request', 'no nonce: PKCE is required')
  t.match(noNonce.location.searchParams.get('error_description'), /code_challenge is required/)
  const noOpenid = await runCodeFlow(app, { clientId: legacy.client_id, redirectUri: REDIRECT, scope: 'profile', nonce: 'n-2', pkce: false })
  t.equal(noOpenid.location.searchParams.get('error'), 'invalid_request', 'no openid scope: no ID token to carry the nonce')

  const withPkce = await runCodeFlow(app, { clientId: legacy.client_id, redirectUri: REDIRECT, scope: 'openid', nonce: 'n-3' })
  const missing = await exchange(app, legacy, withPkce.code ?? '')
  t.equal(missing.statusCode, 400)
  t.equal(missing.json().error, 'invalid_grant', 'a code issued with a challenge needs the verifier')
  const withPkce2 = await runCodeFlow(app, { clientId: legacy.client_id, redirectUri: REDIRECT, scope: 'openid', nonce: 'n-4' })
  t.equal((await exchange(app, legacy, withPkce2.code ?? '', 'x'.repeat(43))).json().error, 'invalid_grant', 'a wrong verifier')
  const withPkce3 = await runCodeFlow(app, { clientId: legacy.client_id, redirectUri: REDIRECT, scope: 'openid', nonce: 'n-5' })
  const good = await exchange(app, legacy, withPkce3.code ?? '', withPkce3.verifier)
  t.equal(good.statusCode, 200, 'PKCE, when sent, works as for every client')
  t.equal(jwtClaims(good.json().id_token).nonce, 'n-5')

  const noPkce = await runCodeFlow(app, { clientId: legacy.client_id, redirectUri: REDIRECT, scope: 'openid', nonce: 'n-6', pkce: false })
  const downgrade = await exchange(app, legacy, noPkce.code ?? '', withPkce3.verifier)
  t.equal(downgrade.statusCode, 400)
  t.equal(downgrade.json().error, 'invalid_grant', 'RFC 9700 §4.8.2: a verifier for a code issued without a challenge is refused')
})

t.test('by default, and with pkce: required, PKCE is required even with a nonce', async (t) => {
  const app = await buildApp(t, { users: testUsers, clients: [strict, byDefault] })
  for (const who of [strict, byDefault]) {
    const flow = await runCodeFlow(app, { clientId: who.client_id, redirectUri: REDIRECT, scope: 'openid', nonce: `n-${who.client_id}`, pkce: false })
    t.equal(flow.location.searchParams.get('error'), 'invalid_request', `${who.client_id}: refused`)
    t.match(flow.location.searchParams.get('error_description'), /code_challenge is required/)
    const withPkce = await runCodeFlow(app, { clientId: who.client_id, redirectUri: REDIRECT, scope: 'openid', nonce: `m-${who.client_id}` })
    const noVerifier = await exchange(app, who, withPkce.code ?? '')
    t.equal(noVerifier.json().error, 'invalid_request', `${who.client_id}: a missing verifier is a missing parameter`)
    t.equal((await exchange(app, who, withPkce.code ?? '', withPkce.verifier)).statusCode, 200, 'and did not spend the code')
  }
})

t.test('a public client (or one without openid) with nonce-allowed is refused at startup', async (t) => {
  const failure = async (extra: Partial<StaticClient>): Promise<Error | undefined> => {
    const candidate = { ...legacy, ...extra } as StaticClient
    if (candidate.token_endpoint_auth_method === 'none') delete candidate.client_secret
    try {
      await buildApp(t, { clients: [candidate] })
    } catch (error) {
      return error as Error
    }
    return undefined
  }
  const publicClient = await failure({ token_endpoint_auth_method: 'none' })
  t.match(publicClient, { code: 'FST_OIDC_INVALID_OPTION' })
  t.match(publicClient?.message, /option "clients\[0\]" is invalid: pkce: 'nonce-allowed' is only for confidential clients/)
  t.match((await failure({ scope: 'profile' }))?.message, /clients\[0\].*pkce: 'nonce-allowed' needs the openid scope/)
  t.match((await failure({ pkce: 'sometimes' as 'required' }))?.message, /clients\[0\]\.pkce/, 'an unknown value names the option')
})

t.test('registration: the client cannot ask for it; the host hook can grant it to confidential clients only', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const app = await buildApp(t, {
    store,
    users: testUsers,
    registration: {
      // The host's policy: only clients named "legacy-*" (in real life: known by their initial access token).
      validate: (metadata) => metadata.client_name?.startsWith('legacy-') === true ? { ...metadata, pkce: 'nonce-allowed' } : metadata,
    },
  })
  const register = async (body: Record<string, unknown>): Promise<LightMyRequestResponse> =>
    await app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ redirect_uris: [REDIRECT], scope: 'openid', ...body }) })

  const wish = await register({ client_name: 'modern', pkce: 'nonce-allowed' })
  t.equal(wish.statusCode, 201)
  t.equal((await store.getClient(wish.json().client_id))?.pkce, undefined, "the client's own wish is ignored")
  const wished = { ...legacy, client_id: wish.json().client_id, client_secret: wish.json().client_secret }
  const refused = await runCodeFlow(app, { clientId: wished.client_id, redirectUri: REDIRECT, scope: 'openid', nonce: 'w-1', pkce: false, consent: 'approve' })
  t.equal(refused.location.searchParams.get('error'), 'invalid_request', 'so it still needs PKCE')

  const granted = await register({ client_name: 'legacy-app' })
  t.equal(granted.statusCode, 201)
  t.equal((await store.getClient(granted.json().client_id))?.pkce, 'nonce-allowed', 'the hook decided')
  t.equal(granted.json().pkce, undefined, 'not echoed: it is not client metadata')
  const allowed = { ...legacy, client_id: granted.json().client_id, client_secret: granted.json().client_secret }
  const flow = await runCodeFlow(app, { clientId: allowed.client_id, redirectUri: REDIRECT, scope: 'openid', nonce: 'g-1', pkce: false })
  t.ok(flow.code, 'the granted client logs in without PKCE')
  t.equal((await exchange(app, allowed, flow.code ?? '')).statusCode, 200)

  const publicLegacy = await register({ client_name: 'legacy-spa', token_endpoint_auth_method: 'none' })
  t.equal(publicLegacy.statusCode, 400, 'the hook cannot grant it to a public client')
  t.equal(publicLegacy.json().error, 'invalid_client_metadata')
})

t.test('the rules as functions', async (t) => {
  const confidential = { pkce: 'nonce-allowed' as const, token_endpoint_auth_method: 'client_secret_basic' }
  t.equal(mayOmitCodeChallenge(confidential, { nonce: 'n', scopes: ['openid'] }), true)
  t.equal(mayOmitCodeChallenge(confidential, { nonce: '', scopes: ['openid'] }), false)
  t.equal(mayOmitCodeChallenge({ ...confidential, token_endpoint_auth_method: 'none' }, { nonce: 'n', scopes: ['openid'] }), false, 'never a public client')
  t.equal(mayOmitCodeChallenge({ token_endpoint_auth_method: 'client_secret_basic' }, { nonce: 'n', scopes: ['openid'] }), false, 'never by default')
  t.same(checkPkcePolicy(undefined, { token_endpoint_auth_method: 'none', scope: '' }), {})
  t.same(checkPkcePolicy('required', { token_endpoint_auth_method: 'none', scope: '' }), { pkce: 'required' })
  t.throws(() => checkPkcePolicy(true, { token_endpoint_auth_method: 'client_secret_basic', scope: 'openid' }), OAuthError)
})

t.test("pkce: 'optional' (host only): a confidential client may send neither PKCE nor nonce; a sent challenge still needs its verifier", async (t) => {
  const optional: StaticClient = { ...legacy, client_id: 'cert-web', pkce: 'optional' }
  const app = await buildApp(t, { users: testUsers, clients: [optional] })
  const bare = await runCodeFlow(app, { clientId: optional.client_id, redirectUri: REDIRECT, scope: 'openid', pkce: false })
  t.ok(bare.code, 'no code_challenge, no nonce: a code')
  const tokens = await exchange(app, optional, bare.code ?? '')
  t.equal(tokens.statusCode, 200)
  t.notOk('nonce' in jwtClaims(tokens.json().id_token), 'no nonce to carry')
  const plainOAuth = await runCodeFlow(app, { clientId: optional.client_id, redirectUri: REDIRECT, scope: 'profile', pkce: false })
  t.ok(plainOAuth.code, 'not only for openid requests')

  const withPkce = await runCodeFlow(app, { clientId: optional.client_id, redirectUri: REDIRECT, scope: 'openid' })
  const missing = await exchange(app, optional, withPkce.code ?? '')
  t.equal(missing.json().error, 'invalid_grant', 'a challenge that was sent needs its verifier')
  const again = await runCodeFlow(app, { clientId: optional.client_id, redirectUri: REDIRECT, scope: 'openid' })
  t.equal((await exchange(app, optional, again.code ?? '', again.verifier)).statusCode, 200, 'and works with it')

  const publicOptional = { ...optional, token_endpoint_auth_method: 'none' as const }
  delete publicOptional.client_secret
  await t.rejects(buildApp(t, { clients: [publicOptional] }), { code: 'FST_OIDC_INVALID_OPTION', message: /pkce: 'optional' is only for confidential clients/ }, 'refused for a public client at startup')
  t.equal(mayOmitCodeChallenge({ pkce: 'optional', token_endpoint_auth_method: 'none' }, { scopes: [] }), false, 'never a public client')
})
