import t from 'tap'
import { validateClientMetadata } from '../../lib/clients/registration/metadata.js'
import { OAuthError } from '../../lib/contracts/errors.js'
import { buildApp } from '../helpers/app.js'

const https = { supportedScopes: ['openid'], allowFirstParty: false, outbound: { allowLoopback: false, allowHttpLoopback: false } }
// One rule with the fetcher (lib/http/outbound-policy.ts): http loopback only when it delivers there.
const http = { ...https, outbound: { allowLoopback: false, allowHttpLoopback: true } }
const web = { redirect_uris: ['https://app.example.com/cb'] }

function refusal (input: unknown, rules = https): OAuthError | undefined {
  try {
    validateClientMetadata(input, rules)
  } catch (error) {
    return error as OAuthError
  }
  return undefined
}

t.test('logout metadata is validated like redirect URIs and kept', async (t) => {
  const accepted = validateClientMetadata({
    ...web,
    post_logout_redirect_uris: ['https://app.example.com/bye', 'http://127.0.0.1:8080/bye', 'https://app.example.com/bye'],
    backchannel_logout_uri: 'https://app.example.com/backchannel?tenant=1',
    backchannel_logout_session_required: true,
  }, https)
  t.same(accepted.post_logout_redirect_uris, ['https://app.example.com/bye', 'http://127.0.0.1:8080/bye'], 'deduplicated')
  t.equal(accepted.backchannel_logout_uri, 'https://app.example.com/backchannel?tenant=1')
  t.equal(accepted.backchannel_logout_session_required, true)
  t.notOk('post_logout_redirect_uris' in validateClientMetadata(web, https), 'absent stays absent')
  t.ok(validateClientMetadata({ ...web, backchannel_logout_uri: 'http://localhost:4000/bc' }, http), 'http on loopback when the fetcher delivers there (outbound.allowHttpLoopback)')
  t.ok(validateClientMetadata({ redirect_uris: ['com.example.app:/cb'], post_logout_redirect_uris: ['com.example.app:/bye'] }, https), 'native apps use their scheme')

  const cases: Array<[string, unknown, (typeof https)?]> = [
    ['not an array', { ...web, post_logout_redirect_uris: 'https://app.example.com/bye' }],
    ['a fragment', { ...web, post_logout_redirect_uris: ['https://app.example.com/bye#x'] }],
    ['javascript:', { ...web, post_logout_redirect_uris: ['javascript:alert(1)'] }],
    ['http elsewhere', { ...web, post_logout_redirect_uris: ['http://app.example.com/bye'] }],
    ['too many', { ...web, post_logout_redirect_uris: Array.from({ length: 21 }, (_, i) => `https://app.example.com/${i}`) }],
    ['back-channel not a string', { ...web, backchannel_logout_uri: 1 }],
    ['back-channel relative', { ...web, backchannel_logout_uri: '/bc' }],
    ['back-channel fragment', { ...web, backchannel_logout_uri: 'https://app.example.com/bc#f' }],
    ['back-channel credentials', { ...web, backchannel_logout_uri: 'https://u:p@app.example.com/bc' }],
    ['back-channel http without allowHttpLoopback', { ...web, backchannel_logout_uri: 'http://localhost:4000/bc' }],
    ['back-channel https to a loopback address the fetcher refuses', { ...web, backchannel_logout_uri: 'https://127.0.0.1:4000/bc' }],
    ['back-channel https to a private address', { ...web, backchannel_logout_uri: 'https://10.0.0.1/bc' }],
    ['back-channel http off loopback', { ...web, backchannel_logout_uri: 'http://app.example.com/bc' }, http],
    ['back-channel too long', { ...web, backchannel_logout_uri: `https://app.example.com/${'a'.repeat(2000)}` }],
    ['session_required not a boolean', { ...web, backchannel_logout_session_required: 'yes' }],
  ]
  for (const [name, input, rules] of cases) {
    const error = refusal(input, rules)
    t.equal(error?.error, 'invalid_client_metadata', name)
    t.match(error?.error_description ?? '', /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/, `${name}: wire-safe description`)
  }
})

t.test('dynamic registration returns the logout members; static clients are checked at startup', async (t) => {
  const app = await buildApp(t, { registration: {} })
  const res = await app.inject({
    method: 'POST',
    url: '/register',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ ...web, post_logout_redirect_uris: ['https://app.example.com/bye'], backchannel_logout_uri: 'https://app.example.com/bc', backchannel_logout_session_required: false }),
  })
  t.equal(res.statusCode, 201)
  t.match(res.json(), { post_logout_redirect_uris: ['https://app.example.com/bye'], backchannel_logout_uri: 'https://app.example.com/bc', backchannel_logout_session_required: false })
  const bad = await app.inject({
    method: 'POST',
    url: '/register',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ ...web, backchannel_logout_uri: 'http://app.example.com/bc' }),
  })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().error, 'invalid_client_metadata')

  await t.rejects(buildApp(t, { clients: [{ client_id: 'x', client_secret: 's'.repeat(20), ...web, post_logout_redirect_uris: ['ftp://x'] }] }), { code: 'FST_OIDC_INVALID_OPTION' })
  const local = { client_id: 'x', client_secret: 's'.repeat(20), ...web, backchannel_logout_uri: 'http://localhost:9/bc' }
  // One rule with the fetcher: an http loopback receiver only where logout tokens would reach it.
  await t.rejects(buildApp(t, { clients: [local] }), { code: 'FST_OIDC_INVALID_OPTION', message: /outbound.allowHttpLoopback/ }, 'without allowHttpLoopback the fetcher would refuse it')
  t.ok(await buildApp(t, { clients: [local], outbound: { allowHttpLoopback: true } }), 'with it, http loopback receivers are allowed')
})
