import type { FastifyBaseLogger } from 'fastify'
import { randomBytes } from 'node:crypto'
import { OptionsSchema, type OidcProviderOptions, type ResolvedOptions } from '../contracts/options.js'
import { validateOptions } from '../contracts/option-schema.js'
import { invalidOption } from '../contracts/errors.js'
import { issuerProblem } from '../contracts/urls.js'
import { storeMethods, type Store } from '../contracts/store.js'
import type { ClaimsHooks, ScopeRegistry } from '../contracts/claims.js'
import type { InteractionOptions } from '../contracts/interactions.js'
import type { PagesOptions } from '../contracts/pages.js'
import type { PasskeyOptions } from '../contracts/passkeys.js'
import type { MetricsOptions, ResolvedMetricsOptions } from '../contracts/metrics.js'
import { MemoryStore } from '../adapters/store/memory.js'
import { generatedKeys } from '../adapters/keys/generated.js'
import { resolveScopes } from '../tokens/scopes.js'

/*
 * The provider's options, checked once at `register`: the schema (contracts/options.ts) refuses
 * unknown names and validates and defaults the plain data; the code below checks what the schema
 * leaves to code (its `ByReference` entries: adapters, functions, host objects) and applies their
 * defaults. Checks that need a concern's own code (static clients, resources, pages, metadata
 * document bounds, metrics registry) stay in that concern; every one of them throws
 * `invalidOption`, so every message names the option the same way.
 */

const noUsers = {
  async authenticate (): Promise<string | null> { return null },
  async claims (): Promise<null> { return null },
}

/** Checks every option, the adapters in code, and applies the defaults: what `ctx.options` holds. */
export function resolveOptions (options: OidcProviderOptions, log: FastifyBaseLogger): ResolvedOptions {
  // Unknown names refused, plain data validated, copied and defaulted; adapters are checked below.
  const data = validateOptions(OptionsSchema, options, invalidOption)
  const badIssuer = issuerProblem(data.issuer)
  if (badIssuer !== undefined) throw invalidOption('issuer', badIssuer)
  if (options.store !== undefined) checkStore(options.store)
  if (options.keys !== undefined && typeof options.keys?.load !== 'function') {
    throw invalidOption('keys', 'must be a KeySource with a load() method (e.g. fileKeys({ dir }))')
  }
  if (options.users !== undefined &&
    (typeof options.users?.authenticate !== 'function' || typeof options.users.claims !== 'function')) {
    throw invalidOption('users', 'must implement authenticate(username, password) and claims(sub, scopes)')
  }
  const registration = options.registration ?? false
  if (registration !== false) {
    if (typeof registration !== 'object' || registration === null) {
      throw invalidOption('registration', 'must be false or an object ({} for open registration)')
    }
    const tokens = registration.initialAccessToken
    if (tokens !== undefined && ![tokens].flat().every((token) => typeof token === 'string' && token.length >= 16)) {
      throw invalidOption('registration.initialAccessToken', 'must be a string (or strings) of at least 16 characters')
    }
    if (registration.validate !== undefined && typeof registration.validate !== 'function') {
      throw invalidOption('registration.validate', 'must be a function')
    }
  }
  if (options.findResourceServer !== undefined && typeof options.findResourceServer !== 'function') {
    throw invalidOption('findResourceServer', 'must be a function')
  }
  const cors = options.cors ?? {}
  if (typeof cors !== 'object' || cors === null || (cors.allowOrigin !== undefined && typeof cors.allowOrigin !== 'function')) {
    throw invalidOption('cors.allowOrigin', 'must be a function (origin, context) => boolean')
  }
  const documents = options.clientIdMetadataDocuments
  const clientDocumentPolicy = typeof documents === 'object' && documents !== null ? documents.allow : undefined
  if (clientDocumentPolicy !== undefined && typeof clientDocumentPolicy !== 'function') {
    throw invalidOption('clientIdMetadataDocuments.allow', 'must be a function (url) => boolean')
  }
  if (options.users === undefined) {
    log.warn('fastify-oidc-provider: no `users` adapter configured; every login will fail')
  }
  let cookieSecret = data.cookieSecret
  const generatedCookieSecret = cookieSecret === undefined
  if (generatedCookieSecret) {
    log.warn('fastify-oidc-provider: no `cookieSecret`; using a random one, so login sessions end on restart and are not shared between instances')
    cookieSecret = randomBytes(32).toString('base64url')
  }
  return {
    ...data,
    ...resolveExperienceOptions(options),
    cookieSecret,
    store: options.store ?? new MemoryStore(),
    ownsStore: options.store === undefined,
    keys: options.keys ?? generatedKeys(),
    users: options.users ?? noUsers,
    registration,
    ...(options.findResourceServer === undefined ? {} : { findResourceServer: options.findResourceServer }),
    cors,
    ...(clientDocumentPolicy === undefined ? {} : { clientDocumentPolicy }),
    generatedCookieSecret,
    metrics: resolveMetricsOptions(options.metrics),
    ...(options.passkeys === undefined ? {} : { passkeys: checkPasskeyOptions(options.passkeys, data.issuer) }),
  }
}

const passkeyStoreMethods = ['createPasskey', 'findPasskey', 'listPasskeys', 'recordPasskeyUse', 'renamePasskey', 'deletePasskey'] as const

/**
 * `passkeys`: a store with the six methods, and an RP ID the browser will accept for the
 * issuer's origin (WebAuthn §5.1.4.1: the host itself or a registrable suffix of it).
 */
function checkPasskeyOptions (passkeys: PasskeyOptions, issuer: string): PasskeyOptions {
  for (const method of passkeyStoreMethods) {
    if (typeof (passkeys.store as unknown as Record<string, unknown> | undefined)?.[method] !== 'function') {
      throw invalidOption('passkeys.store', `must implement the PasskeyStore contract (missing ${method}()); use MemoryPasskeyStore, RedisPasskeyStore or your own`)
    }
  }
  const host = new URL(issuer).hostname
  const rpId = passkeys.rpId
  if (rpId !== undefined && (rpId === '' || (host !== rpId && !host.endsWith(`.${rpId}`)))) {
    throw invalidOption('passkeys.rpId', `must be the issuer's host (${host}) or a parent domain of it`)
  }
  return passkeys
}

/** Every method `Store` requires, from the compiler-checked table (contracts/store.ts). */
function checkStore (store: Store): void {
  for (const [method, presence] of Object.entries(storeMethods)) {
    const value: unknown = store[method as keyof Store]
    if (presence === 'required' && typeof value !== 'function') throw invalidOption('store', `must implement the Store contract (missing ${method}())`)
    // An optional method may be absent (stores written before it), but not something else.
    if (value !== undefined && typeof value !== 'function') throw invalidOption('store', `must implement the Store contract (${method} is not a function)`)
  }
}

const interactionPages = {
  url: 'a function (interaction) => the URL of your login/consent page',
  logoutUrl: 'a function (interaction) => the URL of your logout confirmation page',
  signedOutUrl: 'a function (view) => the URL of your signed-out page',
} as const

/** `interactions`: each page optional, at least one given, each a function. */
function checkInteractionOptions (interactions: InteractionOptions): void {
  if (typeof interactions !== 'object' || interactions === null) throw invalidOption('interactions.url', `must be ${interactionPages.url}`)
  for (const [name, description] of Object.entries(interactionPages)) {
    const value = (interactions as unknown as Record<string, unknown>)[name]
    if (value !== undefined && typeof value !== 'function') throw invalidOption(`interactions.${name}`, `must be ${description}`)
  }
  if (interactions.url === undefined && interactions.logoutUrl === undefined && interactions.signedOutUrl === undefined) {
    throw invalidOption('interactions.url', `must be ${interactionPages.url} (or give logoutUrl / signedOutUrl)`)
  }
}

/** The options of issue 14 (scopes, interactions, claims hooks, pages), checked in code. */
function resolveExperienceOptions (options: OidcProviderOptions): {
  scopes: string[]
  scopeRegistry: ScopeRegistry
  tokenClaims: ClaimsHooks
  interactions?: InteractionOptions
  pages?: PagesOptions
} {
  let scopeRegistry: ScopeRegistry
  try {
    scopeRegistry = resolveScopes(options.scopes)
  } catch (error) {
    throw invalidOption('scopes', (error as Error).message)
  }
  const interactions = options.interactions
  if (interactions !== undefined) checkInteractionOptions(interactions)
  const tokenClaims = options.tokenClaims ?? {}
  if (typeof tokenClaims !== 'object' || tokenClaims === null) throw invalidOption('tokenClaims', 'must be { accessToken?, idToken? }')
  for (const [kind, hook] of Object.entries(tokenClaims)) {
    // The schema refuses other names in an object literal; a host's class instance gets here.
    if (kind !== 'accessToken' && kind !== 'idToken') throw invalidOption(`tokenClaims.${kind}`, 'is not a token kind (accessToken, idToken)')
    if (hook !== undefined && typeof hook !== 'function') throw invalidOption(`tokenClaims.${kind}`, 'must be a function')
  }
  if (options.pages !== undefined && (typeof options.pages !== 'object' || options.pages === null)) {
    throw invalidOption('pages', 'must be an object ({ brand, templates, messages })')
  }
  return {
    scopes: scopeRegistry.names,
    scopeRegistry,
    tokenClaims,
    ...(interactions === undefined ? {} : { interactions }),
    ...(options.pages === undefined ? {} : { pages: options.pages }),
  }
}

const metricPrefix = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

/** The `metrics` option checked in code (a registry is a prom-client object) with its defaults. */
function resolveMetricsOptions (option: boolean | MetricsOptions | undefined): ResolvedMetricsOptions | undefined {
  if (option === undefined || option === false) return undefined
  if (option === true) return { registry: undefined, prefix: 'oidc_', route: false }
  if (typeof option !== 'object' || option === null) throw invalidOption('metrics', 'must be a boolean or an object')
  const { registry, prefix = 'oidc_', route = false } = option
  if (registry !== undefined && typeof (registry as { registerMetric?: unknown }).registerMetric !== 'function') {
    throw invalidOption('metrics.registry', 'must be a prom-client Registry')
  }
  if (typeof prefix !== 'string' || (prefix !== '' && !metricPrefix.test(prefix))) {
    throw invalidOption('metrics.prefix', 'must be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)')
  }
  if (route !== false && (typeof route !== 'string' || !/^\/[^?#]*$/.test(route))) {
    throw invalidOption('metrics.route', 'must be false or a path starting with /')
  }
  return { registry, prefix, route }
}
