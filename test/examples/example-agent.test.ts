import t from 'tap'
import { rmSync } from 'node:fs'
import * as oidc from 'openid-client'
import { decodeJwt } from 'jose'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport, type StreamableHTTPClientTransportOptions } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { AGENT, JWT_BEARER, TOKEN_EXCHANGE, buildAgentExample } from '../../examples/agent.js'
import { freePort } from '../helpers/server.js'
import { HttpBrowser } from '../helpers/http-browser.js'
import { McpTestClient } from '../helpers/mcp-client.js'
import { exampleKeysDir } from '../helpers/example-keys.js'

/*
 * `npm run example:agent` (issue 28) end to end over real HTTP: the official MCP SDK client
 * signs in and calls `whoami`, which exchanges its token for the calendar (the calendar sees the
 * user and the MCP server as actor); then the ID-JAG path: an agent signed in at the enterprise
 * provider gets an ID-JAG, redeems it at the second provider, and calls that MCP server.
 */

const port = await freePort()
const keysDir = await exampleKeysDir()
t.teardown(() => rmSync(keysDir, { recursive: true, force: true }))
const example = await buildAgentExample({ PORT: String(port), HOST: '127.0.0.1', ISSUER: `http://127.0.0.1:${port}`, KEYS_DIR: keysDir, LOG_LEVEL: 'silent', SECRET_KEY: 's'.repeat(32) })
t.teardown(() => example.close())
await example.listen()
const { urls } = example

async function whoami (url: string, options: StreamableHTTPClientTransportOptions): Promise<string> {
  const client = new Client({ name: 'example-agent test', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(url), options))
  try {
    const result = await client.callTool({ name: 'whoami', arguments: {} })
    const [first] = result.content as Array<{ text?: string }>
    return first?.text ?? ''
  } finally {
    await client.close()
  }
}

t.test('delegation: whoami exchanges the caller\'s token and returns what the calendar answered', async (t) => {
  const provider = new McpTestClient({ redirectUrl: `http://127.0.0.1:${port}/callback` })
  const client = new Client({ name: 'example-agent test', version: '1.0.0' })
  const transport = new StreamableHTTPClientTransport(new URL(urls.mcp), { authProvider: provider })
  const failure = await client.connect(transport).then(() => undefined, (error: unknown) => error)
  t.ok(failure instanceof UnauthorizedError, 'the first connection sends the user to the provider')
  await transport.finishAuth(provider.code())
  const answer = JSON.parse(await whoami(urls.mcp, { authProvider: provider })) as Record<string, unknown>
  t.match(answer, { calendar_of: 'demo', act: { sub: 'mcp-server' } }, 'the calendar saw the user, with the MCP server acting')
})

t.test('ID-JAG: from the enterprise provider to the second provider and its MCP server', async (t) => {
  const execute = { execute: [oidc.allowInsecureRequests] }
  const idp = await oidc.discovery(new URL(urls.issuer), AGENT.client_id, undefined, oidc.ClientSecretBasic(AGENT.client_secret), execute)
  const verifier = oidc.randomPKCECodeVerifier()
  const authorizationUrl = oidc.buildAuthorizationUrl(idp, {
    redirect_uri: `${urls.issuer}/callback`,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  })
  const callback = await new HttpBrowser().authorize(authorizationUrl, { username: 'demo', password: 'demo' })
  const signedIn = await oidc.authorizationCodeGrant(idp, callback, { pkceCodeVerifier: verifier, idTokenExpected: true })

  const grant = await oidc.genericGrantRequest(idp, TOKEN_EXCHANGE, {
    requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
    subject_token: signedIn.id_token ?? '',
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    audience: urls.resourceAsIssuer,
    resource: urls.resourceAsMcp,
    scope: 'mcp:tools',
  })
  t.equal(grant.issued_token_type, 'urn:ietf:params:oauth:token-type:id-jag')

  const resourceAs = await oidc.discovery(new URL(urls.resourceAsIssuer), AGENT.client_id, undefined, oidc.ClientSecretBasic(AGENT.client_secret), execute)
  t.same(resourceAs.serverMetadata().authorization_grant_profiles_supported, ['urn:ietf:params:oauth:grant-profile:id-jag'])
  const token = await oidc.genericGrantRequest(resourceAs, JWT_BEARER, { assertion: grant.access_token })
  t.match(decodeJwt(token.access_token), { sub: 'demo', aud: urls.resourceAsMcp, client_id: AGENT.client_id })
  t.equal(await whoami(urls.resourceAsMcp, { requestInit: { headers: { authorization: `Bearer ${token.access_token}` } } }), 'demo', 'whoami answers the user')
})
