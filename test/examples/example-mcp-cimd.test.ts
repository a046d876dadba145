import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { decodeJwt } from 'jose'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { buildMcpServer } from '../../examples/mcp-server.js'
import { freePort } from '../helpers/server.js'
import { McpTestClient } from '../helpers/mcp-client.js'
import { selfSignedCertificate } from '../helpers/tls.js'

t.test('the official MCP SDK client identifies itself with a Client ID Metadata Document (no registration)', async (t) => {
  const certificate = await selfSignedCertificate()
  if (typeof certificate === 'string') {
    if (process.env.CI === 'true') throw new Error(certificate)
    t.plan(0, certificate)
    return
  }
  // The client's side: its metadata document over https on loopback (the SDK requires https).
  const documents = Fastify({ logger: false, https: { key: certificate.key, cert: certificate.cert } })
  const redirectUrl = `http://127.0.0.1:${await freePort()}/callback`
  let fetches = 0
  documents.get('/mcp-client.json', async (request) => {
    fetches++
    return {
      client_id: `https://127.0.0.1:${(request.socket.localPort ?? 0)}/mcp-client.json`,
      client_name: 'MCP SDK CIMD client',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }
  })
  await documents.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => documents.close())
  const address = documents.server.address()
  const clientId = `https://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/mcp-client.json`

  const port = await freePort()
  const keysDir = mkdtempSync(join(tmpdir(), 'example-mcp-cimd-keys-'))
  t.teardown(() => rmSync(keysDir, { recursive: true, force: true }))
  const example = await buildMcpServer(
    { PORT: String(port), HOST: '127.0.0.1', ISSUER: `http://127.0.0.1:${port}/oidc`, KEYS_DIR: keysDir, LOG_LEVEL: 'silent', SECRET_KEY: 's'.repeat(32) },
    { outbound: { ca: certificate.cert } }
  )
  t.teardown(() => example.close())
  await example.app.listen({ port, host: '127.0.0.1' })
  const discovery = await (await fetch(`http://127.0.0.1:${port}/.well-known/oauth-authorization-server/oidc`)).json() as Record<string, unknown>
  t.equal(discovery.client_id_metadata_document_supported, true, 'the example turns CIMD on')

  const provider = new McpTestClient({ redirectUrl, clientMetadataUrl: clientId })
  const transport = new StreamableHTTPClientTransport(new URL(example.resource), { authProvider: provider })
  const failure = await new Client({ name: 'cimd test', version: '1.0.0' }).connect(transport).then(() => undefined, (error: unknown) => error)
  t.ok(failure instanceof UnauthorizedError, 'the 401 sends the client to the provider')
  t.equal(provider.clientInformation()?.client_id, clientId, 'the document URL is the client_id: no registration')
  t.equal(provider.authorizations[0]!.url.searchParams.get('client_id'), clientId)
  t.ok(provider.browser.sawConsent, 'the consent page')
  t.ok(fetches >= 1, 'the provider fetched the document')
  await transport.finishAuth(provider.code())
  const claims = decodeJwt(provider.tokens()!.access_token)
  t.equal(claims.aud, example.resource)
  t.equal(claims.client_id, clientId)

  const client = new Client({ name: 'cimd test', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(example.resource), { authProvider: provider }))
  const result = await client.callTool({ name: 'whoami', arguments: {} })
  await client.close()
  t.same(result.content, [{ type: 'text', text: 'demo' }], 'whoami answers demo')
})
