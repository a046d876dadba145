/**
 * The MCP example: `npm run example:mcp`.
 *
 * One Fastify app, as an MCP server author would build it: the example provider (as
 * `npm start`: same environment, demo users, open dynamic registration, Client ID Metadata
 * Documents) and an MCP server built with the official `@modelcontextprotocol/sdk`, served over
 * Streamable HTTP at `/mcp` and protected by `oidcResourceServer`:
 *
 *   resource  <origin of ISSUER>/mcp   (RFC 8707; the access token's `aud`)
 *   scope     mcp:tools                (declared with the provider's resourceServers)
 *   tool      whoami                   returns the token's `sub`
 *
 * An ISSUER with a path (`http://localhost:3000/oidc`) mounts the provider there; its metadata
 * also answers at the root, path-inserted (`/.well-known/oauth-authorization-server/oidc`),
 * where MCP clients look first. Without a token, `/mcp` answers 401 with
 * `WWW-Authenticate: Bearer resource_metadata="<origin>/.well-known/oauth-protected-resource/mcp"`,
 * and that document (RFC 9728) names the provider.
 *
 * Environment: everything `npm start` reads (examples/env.ts), plus MCP_ALLOWED_ORIGINS: the
 * browser origins besides the server's own that may call `/mcp` (comma-separated).
 */
import type { IncomingMessage } from 'node:http'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import type { OidcProviderOptions, ResourceServer } from '../lib/index.js'
import { oidcResourceServer, type VerifiedAccessToken } from '../lib/resource-server/index.js'
import { buildExampleServer } from './server.js'
import { EnvError, envVar, loadDotEnv, readCommonEnv, runExample, type CommonEnv, type ExampleEnv } from './env.js'

/** The scope every MCP request needs. */
export const mcpScope = 'mcp:tools'

export interface McpExample {
  app: FastifyInstance
  /** `<origin>/mcp`: the MCP endpoint and its resource identifier. */
  resource: string
  issuer: string
  config: CommonEnv
  close: () => Promise<void>
}

export interface McpExampleOptions {
  /** More resource servers beside the MCP one (the test declares a second API). */
  resourceServers?: ResourceServer[]
  /** Outbound settings merged over the example's (a test's own CA for a loopback https document). */
  outbound?: OidcProviderOptions['outbound']
}

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]'])

/** MCP_ALLOWED_ORIGINS: `https://a.example,http://localhost:6274`. */
function allowedOrigins (env: ExampleEnv, own: string): Set<string> {
  const value = envVar.string(env, 'MCP_ALLOWED_ORIGINS')
  const origins = new Set([own])
  for (const entry of (value ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '')) {
    let origin: string
    try {
      origin = new URL(entry).origin
    } catch {
      origin = 'null'
    }
    if (origin === 'null' || origin !== entry.replace(/\/$/, '')) {
      throw new EnvError('MCP_ALLOWED_ORIGINS', 'a comma-separated list of origins (http://localhost:6274,https://app.example)', JSON.stringify(entry))
    }
    origins.add(origin)
  }
  return origins
}

/** One MCP server per request (stateless Streamable HTTP): nothing is shared between callers. */
function whoamiServer (): McpServer {
  const server = new McpServer({ name: 'fastify-oidc-provider MCP example', version: '1.0.0' })
  server.registerTool('whoami', {
    title: 'Who am I',
    description: 'Returns the subject (sub) of the access token the request was made with.',
    annotations: { readOnlyHint: true },
  }, async (extra) => {
    const sub = extra.authInfo?.extra?.sub
    return { content: [{ type: 'text', text: typeof sub === 'string' ? sub : '(no subject)' }] }
  })
  return server
}

/** The verified token as the SDK hands it to tools (`extra.authInfo`). */
function authInfo (token: VerifiedAccessToken, resource: string): AuthInfo {
  return {
    token: token.token,
    clientId: token.claims.client_id,
    scopes: [...token.scopes],
    expiresAt: token.claims.exp,
    resource: new URL(resource),
    extra: { sub: token.claims.sub },
  }
}

/** Builds the app from environment variables (tests call this with their own env, then listen). */
export async function buildMcpServer (env: ExampleEnv = process.env, options: McpExampleOptions = {}): Promise<McpExample> {
  const issuerUrl = new URL(readCommonEnv(env).issuer)
  const resource = `${issuerUrl.origin}/mcp`
  const origins = allowedOrigins(env, issuerUrl.origin)
  // The provider's routes live at the issuer's path (ISSUER=http://localhost:3000/oidc → /oidc/...).
  const prefix = issuerUrl.pathname.replace(/\/+$/, '')
  const provider: Partial<OidcProviderOptions> = {
    ...(prefix === '' ? {} : { prefix }),
    resourceServers: [
      { resource, name: 'MCP example', scopes: { [mcpScope]: 'Use the tools of the MCP example server' } },
      ...(options.resourceServers ?? []),
    ],
    // Development only: a client's metadata document (CIMD) on this machine may be fetched when
    // the issuer itself is on loopback, never otherwise (https; a self-signed one needs `outbound.ca`).
    outbound: { ...(loopbackHosts.has(issuerUrl.hostname) ? { allowLoopback: true } : {}), ...options.outbound },
    // Client ID Metadata Documents: an MCP client may name its https document URL as client_id.
    clientIdMetadataDocuments: true,
  }
  const { app, config } = await buildExampleServer(env, provider)

  await app.register(oidcResourceServer, {
    resource,
    issuer: app.oidc.issuer,
    keys: app.oidc, // same app: no HTTP for the keys
    scopes: [mcpScope],
    resourceName: 'MCP example',
  })

  /**
   * MCP transports (2025-06-18, "Security Warning"): servers MUST validate the Origin header
   * against DNS rebinding. Requests without one (native clients, the Inspector's backend) pass;
   * an allowed browser origin may also read the answers (CORS, Fetch §3.2), the 401's
   * `WWW-Authenticate` included. Set on the raw response: the MCP transport writes it directly.
   */
  const checkOrigin = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const origin = request.headers.origin
    reply.raw.setHeader('vary', 'Origin')
    if (origin === undefined) return
    if (origins.has(origin)) {
      reply.raw.setHeader('access-control-allow-origin', origin)
      reply.raw.setHeader('access-control-expose-headers', 'WWW-Authenticate, Mcp-Session-Id')
      return
    }
    await reply.code(403).send({ jsonrpc: '2.0', error: { code: -32000, message: `origin ${origin} is not allowed` }, id: null })
  }
  // The preflight of a browser MCP client (no credentials: the actual request is checked).
  app.options('/mcp', { onRequest: checkOrigin }, async (_request, reply) => {
    reply.raw.setHeader('access-control-allow-methods', 'POST, GET, DELETE')
    reply.raw.setHeader('access-control-allow-headers', 'Authorization, Content-Type, Accept, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID')
    reply.raw.setHeader('access-control-max-age', '600')
    return await reply.code(204).send()
  })

  const mcp = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const server = whoamiServer()
    // Stateless (no session id): each request gets its own transport; JSON answers, no SSE.
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
    reply.hijack()
    reply.raw.on('close', () => { transport.close().catch(() => {}); server.close().catch(() => {}) })
    try {
      await server.connect(transport)
      const raw: IncomingMessage & { auth?: AuthInfo } = request.raw
      raw.auth = authInfo(request.accessToken!, resource)
      await transport.handleRequest(raw, reply.raw, request.body)
    } catch (error) {
      request.log.error({ err: error }, 'MCP request failed')
      if (!reply.raw.headersSent) {
        reply.raw.writeHead(500, { 'content-type': 'application/json' })
        reply.raw.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null }))
      }
    }
  }
  app.route({
    method: ['POST', 'GET', 'DELETE'],
    url: '/mcp',
    onRequest: checkOrigin,
    config: { accessToken: { scopes: [mcpScope] } },
    handler: async (request, reply) => {
      // Stateless: no standalone SSE stream (GET) and no session to end (DELETE).
      if (request.method !== 'POST') {
        return await reply.code(405).header('allow', 'POST').send({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null })
      }
      await mcp(request, reply)
    },
  })
  return { app, resource, issuer: app.oidc.issuer, config, close: () => app.close() }
}

async function main (): Promise<void> {
  loadDotEnv()
  const example = await buildMcpServer()
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { example.close().then(() => process.exit(0), () => process.exit(1)) })
  }
  await example.app.listen({ port: example.config.port, host: example.config.host })
  example.app.log.info(`MCP server ready: ${example.resource} (authorization server: ${example.issuer})`)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  runExample('MCP example', main)
}
