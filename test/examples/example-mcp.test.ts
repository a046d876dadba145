import t, { type Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import {
  auth,
  buildDiscoveryUrls,
  discoverAuthorizationServerMetadata,
  discoverOAuthProtectedResourceMetadata,
  discoverOAuthServerInfo,
  refreshAuthorization,
  UnauthorizedError,
} from '@modelcontextprotocol/sdk/client/auth.js'
import { InvalidGrantError } from '@modelcontextprotocol/sdk/server/auth/errors.js'
import { buildMcpServer, type McpExample } from '../../examples/mcp-server.js'
import { freePort } from '../helpers/server.js'
import { basic } from '../helpers/codes.js'
import { McpTestClient } from '../helpers/mcp-client.js'

/** The example on a real loopback socket, its ISSUER at `path`, with a second API (`/other`) declared. */
async function startExample (t: Test, path: string, extraEnv: Record<string, string> = {}): Promise<McpExample & { origin: string }> {
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const keysDir = mkdtempSync(join(tmpdir(), 'example-mcp-keys-'))
  t.teardown(() => rmSync(keysDir, { recursive: true, force: true }))
  const example = await buildMcpServer(
    { PORT: String(port), HOST: '127.0.0.1', ISSUER: origin + path, KEYS_DIR: keysDir, LOG_LEVEL: 'silent', SECRET_KEY: 's'.repeat(32), ...extraEnv },
    { resourceServers: [{ resource: `${origin}/other`, name: 'Another API', scopes: { 'other:read': 'Read the other API' } }] }
  )
  t.teardown(() => example.close())
  await example.app.listen({ port, host: '127.0.0.1' })
  return { ...example, origin }
}

async function whoami (resource: string, provider: McpTestClient): Promise<string> {
  const client = new Client({ name: 'example-mcp test', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider }))
  try {
    const tools = await client.listTools()
    if (!tools.tools.some((tool) => tool.name === 'whoami')) throw new Error('no whoami tool')
    const result = await client.callTool({ name: 'whoami', arguments: {} })
    const [first] = result.content as Array<{ type: string, text?: string }>
    return first?.text ?? ''
  } finally {
    await client.close()
  }
}

for (const path of ['', '/oidc']) {
  t.test(`the official MCP SDK client against the example (ISSUER ${path === '' ? 'at the root' : `with the path ${path}`})`, async (t) => {
    const example = await startExample(t, path)
    const { resource, issuer, origin } = example
    t.equal(resource, `${origin}/mcp`)
    t.equal(issuer, origin + path)

    // RFC 6750 §3, RFC 9728 §5.1: no token → 401 naming the protected resource metadata.
    const bare = await fetch(resource, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' })
    t.equal(bare.status, 401)
    const metadataUrl = `${origin}/.well-known/oauth-protected-resource/mcp`
    t.ok(bare.headers.get('www-authenticate')?.startsWith(`Bearer scope="mcp:tools", resource_metadata="${metadataUrl}"`), bare.headers.get('www-authenticate') ?? '')
    const metadata = await (await fetch(metadataUrl)).json()
    t.same(metadata, { resource, authorization_servers: [issuer], scopes_supported: ['mcp:tools'], bearer_methods_supported: ['header'], resource_name: 'MCP example' }, 'the metadata names the provider')

    // The SDK: 401 → metadata → discovery → DCR → the browser logs in as demo → code.
    const provider = new McpTestClient({ redirectUrl: `http://127.0.0.1:${await freePort()}/callback` })
    const transport = new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider })
    const failure = await new Client({ name: 'example-mcp test', version: '1.0.0' }).connect(transport).then(() => undefined, (error: unknown) => error)
    t.ok(failure instanceof UnauthorizedError, 'the 401 sends the client to the provider (connect ends in UnauthorizedError)')
    t.equal(provider.registrations, 1, 'registered with dynamic registration')
    const registered = provider.clientInformation()
    t.ok(registered?.client_id, 'a client_id from /register')
    const [authorization] = provider.authorizations
    t.equal(authorization!.url.origin + authorization!.url.pathname, `${issuer}/authorize`)
    t.equal(authorization!.url.searchParams.get('resource'), resource, 'RFC 8707: the MCP server as resource')
    t.equal(authorization!.url.searchParams.get('scope'), 'mcp:tools', 'the scope the challenge named')
    t.equal(authorization!.url.searchParams.get('code_challenge_method'), 'S256')
    t.ok(provider.browser.sawLogin, 'the login form was filled')
    t.ok(provider.browser.sawConsent, 'a registered client gets the consent page')
    t.equal(authorization!.callback.searchParams.get('iss'), issuer, 'RFC 9207: iss in the authorization response')

    await transport.finishAuth(provider.code())
    const tokens = provider.tokens()!
    const claims = decodeJwt(tokens.access_token)
    t.equal(claims.aud, resource, 'the access token is bound to the MCP server')
    t.equal(claims.sub, 'demo')
    t.equal(claims.scope, 'mcp:tools')
    t.ok(tokens.refresh_token, 'a refresh token for a client registered with the refresh_token grant')

    t.equal(await whoami(resource, provider), 'demo', 'whoami answers the token\'s sub')

    // A token the provider issued for another resource is refused by /mcp (aud), while the
    // same client's token for /mcp is accepted.
    const registration = await fetch(`${issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', scope: 'mcp:tools other:read' }),
    })
    t.equal(registration.status, 201)
    const job = await registration.json() as { client_id: string, client_secret: string }
    const tokenFor = async (target: string): Promise<string> => {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: basic(job.client_id, job.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: target }).toString(),
      })
      t.equal(res.status, 200, `a token for ${target}`)
      return (await res.json() as { access_token: string }).access_token
    }
    const call = async (token: string): Promise<Response> => await fetch(resource, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })
    const other = await tokenFor(`${origin}/other`)
    t.equal(decodeJwt(other).aud, `${origin}/other`)
    const refused = await call(other)
    t.equal(refused.status, 401, 'a token for another resource is refused')
    t.match(refused.headers.get('www-authenticate'), /error="invalid_token"/)
    const issuerToken = await tokenFor(issuer)
    t.equal((await call(issuerToken)).status, 401, 'so is a token for the provider itself')
    const clientToken = await tokenFor(resource)
    t.equal(decodeJwt(clientToken).scope, 'mcp:tools')
    t.equal((await call(clientToken)).status, 200, 'the same client\'s token for /mcp is accepted')

    // The SDK's refresh: a new access token (and a rotated refresh token), still for /mcp.
    const before = provider.tokens()!
    t.equal(await auth(provider, { serverUrl: resource }), 'AUTHORIZED')
    const after = provider.tokens()!
    t.not(after.access_token, before.access_token, 'a new access token')
    t.not(after.refresh_token, before.refresh_token, 'the refresh token rotated')
    t.equal(decodeJwt(after.access_token).aud, resource)
    t.equal(provider.authorizations.length, 1, 'no new login: the refresh token did it')
    t.equal(await whoami(resource, provider), 'demo', 'whoami with the refreshed token')
  })
}

t.test('offline_access: asked for, the SDK adds prompt=consent; refresh tokens either way, but only the offline family outlives the login session', async (t) => {
  const { resource, issuer, app } = await startExample(t, '/oidc')
  const redirectUrl = `http://127.0.0.1:${await freePort()}/callback`
  const online = new McpTestClient({ redirectUrl })
  // SDK 1.x asks what the challenge names; a client asking for offline_access passes it as scope.
  const offline = new McpTestClient({ redirectUrl })
  for (const [provider, scope] of [[online, undefined], [offline, 'mcp:tools offline_access']] as const) {
    t.equal(await auth(provider, { serverUrl: resource, ...(scope === undefined ? {} : { scope }) }), 'REDIRECT')
    t.equal(await auth(provider, { serverUrl: resource, authorizationCode: provider.code() }), 'AUTHORIZED')
    t.ok(provider.tokens()?.refresh_token, `a refresh token (scope ${scope ?? 'mcp:tools'})`)
  }
  t.notOk(online.authorizations[0]!.url.searchParams.has('prompt'))
  t.equal(offline.authorizations[0]!.url.searchParams.get('scope'), 'mcp:tools offline_access')
  t.equal(offline.authorizations[0]!.url.searchParams.get('prompt'), 'consent', 'the SDK adds prompt=consent with offline_access')
  t.ok(offline.browser.sawConsent, 'the consent page was shown')
  t.match(offline.clientInformation(), { scope: 'mcp:tools offline_access' }, 'registered with the scope it asks for')

  // Ending demo's login sessions (logout, password change) ends the online family only.
  t.equal(await app.oidc.endAccountSessions('demo'), 2)
  const metadata = await discoverAuthorizationServerMetadata(issuer)
  const refresh = async (provider: McpTestClient): Promise<unknown> => await refreshAuthorization(issuer, {
    metadata,
    clientInformation: provider.clientInformation()!,
    refreshToken: provider.tokens()!.refresh_token!,
    resource: new URL(resource),
  })
  await t.rejects(refresh(online), InvalidGrantError, 'without offline_access the refresh token died with the session')
  t.match(await refresh(offline), { access_token: String }, 'with offline_access it still works')
})

t.test('Origin: checked against DNS rebinding; an allowed browser origin may read the answers (CORS)', async (t) => {
  const { resource, origin } = await startExample(t, '', { MCP_ALLOWED_ORIGINS: 'http://localhost:6274' })
  const post = async (from: string): Promise<Response> => await fetch(resource, { method: 'POST', headers: { origin: from, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' })
  const foreign = await post('http://evil.example')
  t.equal(foreign.status, 403, 'another origin is refused before anything else')
  t.notOk(foreign.headers.get('access-control-allow-origin'))
  for (const allowed of [origin, 'http://localhost:6274']) {
    const res = await post(allowed)
    t.equal(res.status, 401, `${allowed}: allowed, then asked for a token`)
    t.equal(res.headers.get('access-control-allow-origin'), allowed)
    t.match(res.headers.get('access-control-expose-headers'), /WWW-Authenticate/)
  }
  const preflight = await fetch(resource, { method: 'OPTIONS', headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, mcp-protocol-version' } })
  t.equal(preflight.status, 204)
  t.equal(preflight.headers.get('access-control-allow-origin'), 'http://localhost:6274')
  t.match(preflight.headers.get('access-control-allow-headers'), /Authorization.*MCP-Protocol-Version/)
  t.equal((await fetch(resource, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } })).status, 403)
  await t.rejects(buildMcpServer({ MCP_ALLOWED_ORIGINS: 'http://localhost:6274/path' }), /MCP_ALLOWED_ORIGINS must be a comma-separated list of origins/)
})

t.test('with ISSUER=http://127.0.0.1:$PORT/oidc, every metadata location the SDK probes answers the same document', async (t) => {
  const { resource, issuer, origin } = await startExample(t, '/oidc')
  const probed = buildDiscoveryUrls(issuer).map(({ url }) => url.href)
  t.same(probed, [
    `${origin}/.well-known/oauth-authorization-server/oidc`,
    `${origin}/.well-known/openid-configuration/oidc`,
    `${origin}/oidc/.well-known/openid-configuration`,
  ], 'the SDK\'s discovery order (RFC 8414 §3.1, then OIDC Discovery)')
  const bodies = await Promise.all([...probed, `${origin}/oidc/.well-known/oauth-authorization-server`].map(async (url) => {
    const res = await fetch(url, { headers: { 'mcp-protocol-version': '2025-11-25', accept: 'application/json' } })
    t.equal(res.status, 200, url)
    return await res.text()
  }))
  t.equal(new Set(bodies).size, 1, 'one document, byte for byte')
  const document = JSON.parse(bodies[0]!) as Record<string, unknown>
  t.equal(document.issuer, issuer, 'the issuer the client inserted (RFC 8414 §3.3)')
  t.same(document.code_challenge_methods_supported, ['S256'])
  t.equal(document.authorization_response_iss_parameter_supported, true)
  t.ok((document.scopes_supported as string[]).includes('mcp:tools'))
  t.equal((await fetch(`${origin}/.well-known/oauth-authorization-server`)).status, 404, 'the root location belongs to a pathless issuer')

  const discovered = await discoverAuthorizationServerMetadata(issuer)
  t.equal(discovered?.issuer, issuer)
  // RFC 9728 §3.1: path-inserted, and the root fallback the SDK tries next.
  for (const url of [`${origin}/.well-known/oauth-protected-resource/mcp`, `${origin}/.well-known/oauth-protected-resource`]) {
    t.match(await (await fetch(url)).json(), { resource, authorization_servers: [issuer] }, url)
  }
  const protectedResource = await discoverOAuthProtectedResourceMetadata(resource)
  t.equal(protectedResource.resource, resource)
  const info = await discoverOAuthServerInfo(resource)
  t.equal(info.authorizationServerUrl, issuer)
  t.equal(info.authorizationServerMetadata?.issuer, issuer)
})
