import { randomBytes } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { MemoryStore, type OidcProviderOptions, type StaticClient, type Store } from '../../lib/index.js'
import { buildApp } from './app.js'
import { testUsers } from './users.js'
import { nowSeconds, randomToken, sha256 } from '../../lib/tokens/crypto.js'
import { s256Challenge } from '../../lib/tokens/pkce.js'

export const REDIRECT_URI = 'https://rp.example.com/cb'
export const CONFIDENTIAL = { client_id: 'web-app', client_secret: 'web-app-secret-0123456789' }
export const OTHER = { client_id: 'other-app', client_secret: 'other-app-secret-0123456789' }
export const PUBLIC_ID = 'mobile-app'
export const SERVICE = { client_id: 'service', client_secret: 'service-secret-0123456789' }

/** The static clients most token tests use. */
export function testClients (redirectUri = REDIRECT_URI): StaticClient[] {
  return [
    { ...CONFIDENTIAL, redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile email offline_access' },
    { ...OTHER, redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile email' },
    { client_id: PUBLIC_ID, token_endpoint_auth_method: 'none', redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile email' },
    { ...SERVICE, grant_types: ['client_credentials'], scope: 'api.read api.write openid' },
  ]
}

export interface IssuedCode {
  code: string
  verifier: string
  grantId: string
}

export interface CodeOptions {
  clientId?: string
  redirectUri?: string
  accountId?: string
  scope?: string
  nonce?: string
  authTime?: number
  /** Seconds until the code expires (negative: already expired). */
  codeTtl?: number
  grantTtl?: number
  /** Reuse an existing grant instead of creating one. */
  grantId?: string
  /** RFC 8707 resources of the authorization request. */
  resources?: string[]
}

/**
 * Writes a grant and an authorization code into the store exactly as `/authorize` + consent do
 * (see `AuthorizationCodeRecord`), so the token endpoint can be tested on its own.
 */
export async function issueCode (store: Store, options: CodeOptions = {}): Promise<IssuedCode> {
  const now = nowSeconds()
  const clientId = options.clientId ?? CONFIDENTIAL.client_id
  const accountId = options.accountId ?? 'demo'
  const scope = options.scope ?? 'openid profile email'
  const verifier = randomBytes(32).toString('base64url')
  const code = randomToken(32)
  const grantId = options.grantId ?? randomToken(16)
  if (options.grantId === undefined) {
    await store.saveGrant({ grantId, accountId, clientId, scope, createdAt: now, expiresAt: now + (options.grantTtl ?? 3600) })
  }
  await store.saveCode(sha256(code), {
    clientId,
    grantId,
    accountId,
    redirectUri: options.redirectUri ?? REDIRECT_URI,
    codeChallenge: s256Challenge(verifier),
    codeChallengeMethod: 'S256',
    scope,
    ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
    ...(options.resources === undefined ? {} : { resources: options.resources }),
    authTime: options.authTime ?? now - 5,
    expiresAt: now + (options.codeTtl ?? 60),
  })
  return { code, verifier, grantId }
}

export function basic (clientId: string, secret: string): string {
  const encode = (value: string): string => encodeURIComponent(value).replaceAll('%20', '+')
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`
}

/** POSTs a form to one of the provider's endpoints. */
export async function postForm (
  app: FastifyInstance,
  url: string,
  fields: Record<string, string | string[]>,
  headers: Record<string, string> = {}
): Promise<LightMyRequestResponse> {
  const body = new URLSearchParams()
  for (const [name, value] of Object.entries(fields)) {
    for (const item of [value].flat()) body.append(name, item)
  }
  return await app.inject({
    method: 'POST',
    url,
    payload: body.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  })
}

/** Exchanges a code as the confidential test client (Basic auth). */
export async function exchangeCode (
  app: FastifyInstance,
  issued: IssuedCode,
  options: { clientId?: string, secret?: string, redirectUri?: string } = {}
): Promise<LightMyRequestResponse> {
  const clientId = options.clientId ?? CONFIDENTIAL.client_id
  const secret = options.secret ?? (clientId === CONFIDENTIAL.client_id ? CONFIDENTIAL.client_secret : undefined)
  const fields: Record<string, string> = {
    grant_type: 'authorization_code',
    code: issued.code,
    redirect_uri: options.redirectUri ?? REDIRECT_URI,
    code_verifier: issued.verifier,
  }
  if (secret === undefined) fields.client_id = clientId
  return await postForm(app, '/token', fields, secret === undefined ? {} : { authorization: basic(clientId, secret) })
}

/** Standard scopes plus two API scopes for client_credentials. */
export const testScopes = ['openid', 'profile', 'email', 'offline_access', 'api.read', 'api.write']

/** An app with the test clients and users over a store the test can reach into (default: memory). */
export async function tokenApp (
  t: { teardown (fn: () => unknown): void },
  options: Partial<OidcProviderOptions> = {}
): Promise<{ app: FastifyInstance, store: Store }> {
  const store = options.store ?? new MemoryStore()
  if (options.store === undefined) t.teardown(() => store.close?.())
  const app = await buildApp(t, { clients: testClients(), users: testUsers, scopes: testScopes, ...options, store })
  return { app, store }
}

/** Decodes a JWT's payload without verifying it (to look at claims in assertions). */
export function jwtClaims (token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>
}
