import t from 'tap'
import { StoreUnavailableError } from '../../lib/contracts/errors.js'
import type { FetchResult } from '../../lib/contracts/outbound.js'
import { TrustedIssuerRegistry } from '../../lib/trust/registry.js'

/*
 * The trusted-issuer registry (issue 28) on its own: keys by discovery, one refetch for an unknown
 * `kid` per cooldown (the jwks_uri cache clients use), the lookup function, and the startup checks.
 * The fetcher is a stand-in that records what was asked (the real one is exercised by
 * test/grants/token-exchange.test.ts, two providers over loopback HTTP).
 */

const ISSUER = 'https://idp.example'

function fetcher (documents: Record<string, unknown>): { getJson: (url: string) => Promise<FetchResult<unknown>>, asked: string[] } {
  const asked: string[] = []
  return {
    asked,
    async getJson (url) {
      asked.push(url)
      const value = documents[url]
      return value === undefined
        ? { ok: false, reason: 'bad_status', message: '404' }
        : { ok: true, value, status: 200, headers: new Headers() }
    },
  }
}

t.test('keys come from the discovery document\'s jwks_uri, cached; an unknown kid refetches at most once per cooldown', async (t) => {
  const stand = fetcher({
    [`${ISSUER}/.well-known/openid-configuration`]: { issuer: ISSUER, jwks_uri: `${ISSUER}/jwks` },
    [`${ISSUER}/jwks`]: { keys: [{ kty: 'EC', kid: 'k1' }] },
  })
  const registry = new TrustedIssuerRegistry([{ issuer: ISSUER, idJag: true }], undefined, stand.getJson, 'https://self.example')
  const issuer = await registry.find(ISSUER)
  t.ok(issuer?.idJag)
  t.same(await registry.keys(issuer!, 'k1'), [{ kty: 'EC', kid: 'k1' }])
  t.same(await registry.keys(issuer!, 'k1'), [{ kty: 'EC', kid: 'k1' }])
  t.same(stand.asked, [`${ISSUER}/.well-known/openid-configuration`, `${ISSUER}/jwks`], 'discovery and keys fetched once')
  await registry.keys(issuer!, 'made-up')
  t.equal(stand.asked.length, 2, 'an unknown kid right after a fetch does not fetch again (cooldown)')
})

t.test('a discovery document naming another issuer is not used', async (t) => {
  const stand = fetcher({ [`${ISSUER}/.well-known/openid-configuration`]: { issuer: 'https://evil.example', jwks_uri: 'https://evil.example/jwks' } })
  const registry = new TrustedIssuerRegistry([{ issuer: ISSUER, idJag: true }], undefined, stand.getJson, 'https://self.example')
  await t.rejects(registry.keys((await registry.find(ISSUER))!, undefined), { name: 'JwksUnavailableError' })
  t.notOk(stand.asked.includes('https://evil.example/jwks'))
})

t.test('the lookup function answers for issuers the list does not know; its failure is a store outage', async (t) => {
  const stand = fetcher({})
  const registry = new TrustedIssuerRegistry([], async (iss) => iss === 'https://db.example' ? { issuer: iss, subjectTokens: true, jwks: { keys: [] } } : undefined, stand.getJson, 'https://self.example')
  t.ok(registry.configured)
  t.equal((await registry.find('https://db.example'))?.subjectTokens, true)
  t.equal(await registry.find('https://unknown.example'), undefined)
  const failing = new TrustedIssuerRegistry([], async () => { throw new Error('db down') }, stand.getJson, 'https://self.example')
  await t.rejects(failing.find('https://x.example'), StoreUnavailableError)
  const invalid = new TrustedIssuerRegistry([], async (iss) => ({ issuer: iss, algorithms: ['HS256'] }), stand.getJson, 'https://self.example')
  await t.rejects(invalid.find('https://x.example'), StoreUnavailableError, 'an invalid issuer from the lookup is refused')
})

t.test('startup checks: no symmetric keys, no private members, never our own issuer', async (t) => {
  const make = (entry: Record<string, unknown>): unknown => new TrustedIssuerRegistry([entry as never], undefined, fetcher({}).getJson, 'https://self.example')
  t.throws(() => make({ issuer: ISSUER, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }), /trustedIssuers\[0\]\.jwks/)
  t.throws(() => make({ issuer: ISSUER, jwks: { keys: [{ kty: 'EC', d: 'private' }] } }), /trustedIssuers\[0\]\.jwks/)
  t.throws(() => make({ issuer: 'https://self.example' }), /own issuer/)
  t.throws(() => make({ issuer: ISSUER, workloads: [{ subjectPattern: '(', resources: ['https://a.example/'], scopes: [] }] }), /subjectPattern/)
})
