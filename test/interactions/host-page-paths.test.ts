import t from 'tap'
import Fastify from 'fastify'
import { oidcProvider, type OidcProviderOptions } from '../../lib/index.js'
import { pathMatches } from '../../lib/interactions/host-page-paths.js'
import { testKeys } from '../helpers/keys.js'

const ISSUER = 'https://id.example.com/oidc'

async function registerWith (interactions: OidcProviderOptions['interactions']): Promise<Error | undefined> {
  const app = Fastify({ logger: false })
  try {
    await app.register(oidcProvider, { issuer: ISSUER, prefix: '/oidc', keys: testKeys(), cookieSecret: 'x'.repeat(32), interactions })
    await app.ready()
    return undefined
  } catch (error) {
    return error as Error
  } finally {
    await app.close()
  }
}

// Issue 26: the provider's cookies are scoped to the issuer's path; a host page outside it never
// sees them, and every login failed at run time as "started in another browser".
t.test('a host login page outside the cookie path fails register, naming both', async (t) => {
  const outside = await registerWith({ url: (interaction) => `/sign-in?interaction_id=${interaction.id}` })
  t.equal(outside?.message, 'fastify-oidc-provider: option "interactions.url" sends the browser to "/sign-in", outside "/oidc", the path the provider\'s cookies are scoped to (the issuer\'s path), so the browser would not send them and every login would fail as "started in another browser"; serve the page under /oidc (e.g. /oidc/sign-in)')
  const sibling = await registerWith({ logoutUrl: (interaction) => `/oidc-pages/sign-out?interaction_id=${interaction.id}` })
  t.match(sibling?.message, /option "interactions\.logoutUrl" sends the browser to "\/oidc-pages\/sign-out", outside "\/oidc"/, 'a sibling path sharing the prefix is outside (RFC 6265 §5.1.4)')
  const elsewhere = await registerWith({ url: () => 'https://login.example.com/sign-in' })
  t.match(elsewhere?.message, /sends the browser to "https:\/\/login\.example\.com\/sign-in", on another origin than the issuer \(https:\/\/id\.example\.com\)/)
  t.equal(await registerWith({ url: (interaction) => `/oidc/sign-in?interaction_id=${interaction.id}` }), undefined, 'a page under the path registers')
  t.equal(await registerWith({ url: (interaction) => `${ISSUER}/sign-in?id=${interaction.client.clientId}` }), undefined, 'an absolute URL under the path too')
  t.equal(await registerWith({ url: () => { throw new Error('needs a real interaction') } }), undefined, 'a function that throws on the sample is left to run time')
})

t.test('RFC 6265 §5.1.4 path-match', async (t) => {
  t.ok(pathMatches('/oidc', '/oidc'))
  t.ok(pathMatches('/oidc/login', '/oidc'))
  t.ok(pathMatches('/anything', '/'))
  t.notOk(pathMatches('/oidcx/login', '/oidc'))
  t.notOk(pathMatches('/login', '/oidc'))
})
