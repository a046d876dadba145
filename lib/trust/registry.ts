import { invalidOption, StoreUnavailableError } from '../contracts/errors.js'
import type { ProviderCore } from '../contracts/context.js'
import type { FindTrustedIssuer, KnownTrustedIssuer, TrustedIssuer, TrustRegistry } from '../contracts/trust.js'
import { assertionAlgorithms } from '../tokens/assertion-algorithms.js'
import { JwksUriCache, JwksUnavailableError, type GetJson } from '../clients/jwks-uri.js'

/** Default longest assertion lifetime: an ID-JAG or a workload JWT is short-lived. */
const defaultMaxLifetime = 600
/** A discovery document is fetched again after this long (and at most once per cooldown on failure). */
const discoveryTtlMs = 300_000
const discoveryCooldownMs = 60_000

/**
 * The trusted issuers (issue 28): a static list checked at startup and an optional lookup
 * function, asked when the list does not know an `iss`. Keys come from the issuer's inline JWKS,
 * its `jwks_uri`, or its discovery document's `jwks_uri`; remote sets go through the same
 * `JwksUriCache` as clients' `jwks_uri` (SSRF-safe fetcher, cache, one refetch per cooldown on
 * an unknown `kid`), in a cache of their own so clients cannot evict issuers' keys.
 */
export class TrustedIssuerRegistry implements TrustRegistry {
  readonly #byIssuer = new Map<string, KnownTrustedIssuer>()
  readonly #find: FindTrustedIssuer | undefined
  readonly #keySets: JwksUriCache
  readonly #getJson: GetJson
  /** Discovered `jwks_uri` per issuer, and when it was read (or failed). */
  readonly #discovered = new Map<string, { jwksUri: string | undefined, at: number }>()

  constructor (list: readonly TrustedIssuer[], find: FindTrustedIssuer | undefined, getJson: GetJson, self: string) {
    this.#find = find
    this.#getJson = getJson
    this.#keySets = new JwksUriCache(getJson)
    list.forEach((entry, index) => {
      const name = `trustedIssuers[${index}]`
      const known = toKnownIssuer(entry, (member, message) => { throw invalidOption(`${name}${member}`, message) })
      // draft-ietf-oauth-identity-assertion-authz-grant §8.3: never redeem our own ID-JAGs.
      if (known.issuer === self) throw invalidOption(`${name}.issuer`, 'is this provider\'s own issuer')
      if (this.#byIssuer.has(known.issuer)) throw invalidOption(`${name}.issuer`, `duplicates "${known.issuer}"`)
      this.#byIssuer.set(known.issuer, known)
    })
  }

  get configured (): boolean {
    return this.#byIssuer.size > 0 || this.#find !== undefined
  }

  async find (issuer: string): Promise<KnownTrustedIssuer | undefined> {
    const known = this.#byIssuer.get(issuer)
    if (known !== undefined || this.#find === undefined) return known
    let found: TrustedIssuer | undefined | null
    try {
      found = await this.#find(issuer)
    } catch (error) {
      throw new StoreUnavailableError('the trusted issuer lookup failed', { cause: error })
    }
    if (found === undefined || found === null || found.issuer !== issuer) return undefined
    return toKnownIssuer(found, (member, message) => {
      throw new StoreUnavailableError(`findTrustedIssuer returned an invalid issuer: ${member.replace(/^\./, '')} ${message}`)
    })
  }

  async keys (issuer: KnownTrustedIssuer, kid: string | undefined): Promise<Array<Record<string, unknown>>> {
    if (issuer.jwks !== undefined) return issuer.jwks.keys
    const jwksUri = issuer.jwksUri ?? await this.#discoverJwksUri(issuer.issuer)
    return await this.#keySets.keys(jwksUri, kid)
  }

  /** RFC 8414 §3 / OIDC Discovery §4: the issuer's metadata names its `jwks_uri`. */
  async #discoverJwksUri (issuer: string): Promise<string> {
    const now = Date.now()
    const cached = this.#discovered.get(issuer)
    if (cached !== undefined) {
      const age = now - cached.at
      if (cached.jwksUri !== undefined && age < discoveryTtlMs) return cached.jwksUri
      if (cached.jwksUri === undefined && age < discoveryCooldownMs) throw new JwksUnavailableError('the issuer\'s metadata could not be read recently')
    }
    const base = issuer.replace(/\/$/, '')
    for (const url of [`${base}/.well-known/openid-configuration`, wellKnownInserted(issuer)]) {
      const result = await this.#getJson(url, { timeoutMs: 3000, maxBytes: 64 * 1024 })
      if (!result.ok) continue
      const metadata = result.value as { issuer?: unknown, jwks_uri?: unknown } | null
      // RFC 8414 §3.3: the document must name the very issuer it was fetched for.
      if (typeof metadata !== 'object' || metadata === null || metadata.issuer !== issuer || typeof metadata.jwks_uri !== 'string') continue
      this.#discovered.set(issuer, { jwksUri: metadata.jwks_uri, at: now })
      return metadata.jwks_uri
    }
    this.#discovered.set(issuer, { jwksUri: cached?.jwksUri, at: now })
    if (cached?.jwksUri !== undefined) return cached.jwksUri
    throw new JwksUnavailableError('the issuer\'s metadata has no jwks_uri')
  }
}

/** RFC 8414 §3.1: `https://host/.well-known/oauth-authorization-server/path`. */
function wellKnownInserted (issuer: string): string {
  try {
    const url = new URL(issuer)
    const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
    return `${url.origin}/.well-known/oauth-authorization-server${path}`
  } catch {
    return issuer
  }
}

function toKnownIssuer (entry: TrustedIssuer, fail: (member: string, message: string) => never): KnownTrustedIssuer {
  if (typeof entry !== 'object' || entry === null) return fail('', 'must be an object')
  if (typeof entry.issuer !== 'string' || !/^https?:\/\/[^?#]+$/.test(entry.issuer)) fail('.issuer', 'must be an http(s) URL without query or fragment')
  const algorithms = entry.algorithms ?? assertionAlgorithms
  const symmetric = algorithms.find((alg) => !assertionAlgorithms.includes(alg))
  if (symmetric !== undefined || algorithms.length === 0) fail('.algorithms', `must name asymmetric algorithms only (${assertionAlgorithms.join(', ')})`)
  if (entry.jwks !== undefined && entry.jwksUri !== undefined) fail('.jwksUri', 'cannot be given together with jwks')
  if (entry.jwks !== undefined) {
    const secret = entry.jwks.keys.find((key) => key.kty === 'oct' || key.d !== undefined)
    if (secret !== undefined) fail('.jwks', 'must hold public keys only (no symmetric keys, no private members)')
  }
  if (entry.jwksUri !== undefined && !/^https?:\/\//.test(entry.jwksUri)) fail('.jwksUri', 'must be an http(s) URL')
  const workloads = (entry.workloads ?? []).map((rule, index) => {
    const at = `.workloads[${index}]`
    if ((rule.subject === undefined) === (rule.subjectPattern === undefined)) fail(at, 'needs exactly one of subject and subjectPattern')
    let matches: (sub: string) => boolean
    if (rule.subject !== undefined) {
      const subject = rule.subject
      matches = (sub) => sub === subject
    } else {
      let pattern: RegExp
      try {
        pattern = new RegExp(rule.subjectPattern as string, 'u')
      } catch {
        return fail(`${at}.subjectPattern`, 'is not a valid regular expression')
      }
      matches = (sub) => pattern.test(sub)
    }
    if (!Array.isArray(rule.resources) || rule.resources.length === 0) fail(`${at}.resources`, 'must name at least one resource')
    return { matches, resources: [...rule.resources], scopes: [...rule.scopes] }
  })
  const known: KnownTrustedIssuer = {
    issuer: entry.issuer,
    algorithms: [...algorithms],
    idJag: entry.idJag === true,
    subjectTokens: entry.subjectTokens === true,
    workloads,
    maxAssertionLifetime: entry.maxAssertionLifetime ?? defaultMaxLifetime,
  }
  if (entry.jwks !== undefined) known.jwks = entry.jwks
  if (entry.jwksUri !== undefined) known.jwksUri = entry.jwksUri
  return known
}

/** The provider's trusted-issuer registry (`ctx.trust`), made once at register. */
export function createTrustRegistry (core: ProviderCore): TrustRegistry {
  return new TrustedIssuerRegistry(
    core.options.trustedIssuers,
    core.options.findTrustedIssuer,
    async (url, options) => await core.fetcher.getJson(url, options),
    core.issuer
  )
}
