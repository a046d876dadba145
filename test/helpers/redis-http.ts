/**
 * Driving the example server (test/helpers/example-server.ts) over real HTTP, for the Redis
 * outage and Cluster tests and the PostgreSQL instances test: with fetch and HttpBrowser as a
 * relying party and a user would.
 */
import { pkcePair } from './flow.js'
import { HttpBrowser, requestTimeoutMs } from './http-browser.js'
import { basicAuth, REDIRECT_URI, type RegisteredClient, type TokenResponse } from './redis-instances.js'

export async function postForm (url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return await fetch(url, {
    signal: AbortSignal.timeout(requestTimeoutMs),
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  })
}

export async function register (issuer: string, metadata: Record<string, unknown> = {}): Promise<Response> {
  return await fetch(`${issuer}/register`, {
    signal: AbortSignal.timeout(requestTimeoutMs),
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'http rp',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid profile email offline_access',
      ...metadata,
    }),
  })
}

/**
 * Retries `attempt` every 100 ms until it returns true, for at most `timeoutMs`: how long the
 * provider takes to be usable once Redis is (back) up. Resolves the time it took, or undefined.
 */
export async function waitUntil (attempt: () => Promise<boolean>, timeoutMs = 15_000): Promise<number | undefined> {
  const started = Date.now()
  while (Date.now() - started < timeoutMs) {
    if (await attempt().catch(() => false)) return Date.now() - started
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return undefined
}

/** Registers a client, then waits until registration answers 201 (the store is reachable). */
export async function registerWhenReady (issuer: string): Promise<RegisteredClient> {
  let client: RegisteredClient | undefined
  await waitUntil(async () => {
    const res = await register(issuer)
    if (res.status === 201) client = await res.json() as RegisteredClient
    return client !== undefined
  })
  if (client === undefined) throw new Error(`registration at ${issuer} never succeeded`)
  return client
}

/** The authorization request URL for `client`, with a fresh PKCE pair. */
export function authorizationUrl (issuer: string, client: RegisteredClient): { url: URL, verifier: string } {
  const { verifier, challenge } = pkcePair()
  const url = new URL(`${issuer}/authorize`)
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile email offline_access',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'st-1',
  }).toString()
  return { url, verifier }
}

/** Login + consent in `browser`; the code and verifier to redeem. */
export async function obtainCode (issuer: string, client: RegisteredClient, browser = new HttpBrowser()): Promise<{ code: string, verifier: string, iss: string | null }> {
  const { url, verifier } = authorizationUrl(issuer, client)
  const back = await browser.authorize(url, { username: 'demo', password: 'demo' })
  const code = back.searchParams.get('code')
  if (code === null) throw new Error(`no code: ${back.href}`)
  return { code, verifier, iss: back.searchParams.get('iss') }
}

export async function redeemCode (issuer: string, client: RegisteredClient, code: { code: string, verifier: string }): Promise<Response> {
  return await postForm(`${issuer}/token`, {
    grant_type: 'authorization_code',
    code: code.code,
    redirect_uri: REDIRECT_URI,
    code_verifier: code.verifier,
  }, basicAuth(client))
}

/** register → login + consent → code → tokens; throws unless every step succeeds. */
export async function fullFlow (issuer: string): Promise<{ client: RegisteredClient, tokens: TokenResponse }> {
  const client = await registerWhenReady(issuer)
  const res = await redeemCode(issuer, client, await obtainCode(issuer, client))
  if (res.status !== 200) throw new Error(`code exchange failed: ${res.status} ${await res.text()}`)
  return { client, tokens: await res.json() as TokenResponse }
}
