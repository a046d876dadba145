/**
 * The delegation and agents example: `npm run example:agent` (guide: docs/delegation-and-agents.md).
 *
 * Three servers, one process:
 *
 *   PORT              the example provider (as `npm start`, the enterprise identity provider) and
 *                     an MCP server at /mcp whose tool `whoami` exchanges the caller's token
 *                     (RFC 8693) for a token to the calendar API and returns what the calendar
 *                     answered: the user as `sub`, the MCP server's client as `act.sub`.
 *   CALENDAR_PORT     the calendar API (GET /me), protected by `oidcResourceServer`.
 *   RESOURCE_AS_PORT  a second provider, the authorization server of another MCP server (/mcp,
 *                     `whoami` answers the user), trusting the first for ID-JAGs: an agent signed
 *                     in at the first exchanges the user's ID token there for an ID-JAG and redeems
 *                     it here with the jwt-bearer grant (MCP Enterprise-Managed Authorization).
 *
 * Environment: everything `npm start` reads (examples/env.ts); CALENDAR_PORT and
 * RESOURCE_AS_PORT (default 0: any free port, printed). Clients (demo secrets, never in real code):
 * `mcp-server` (token exchange) and `agent` (code flow + ID-JAG at the first provider, jwt-bearer
 * at the second), redirect URI `<ISSUER origin>/callback`.
 */
import type { IncomingMessage } from 'node:http'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import { oidcProvider, generatedKeys } from '../lib/index.js'
import { oidcResourceServer } from '../lib/resource-server/index.js'
import { buildExampleServer, demoUsers } from './server.js'
import { envVar, loadDotEnv, readCommonEnv, runExample, type ExampleEnv } from './env.js'

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
/** Demo credentials. */
export const MCP_CLIENT = { client_id: 'mcp-server', client_secret: 'mcp-server-demo-secret-0123' }
export const AGENT = { client_id: 'agent', client_secret: 'agent-demo-secret-0123456789' }

export interface AgentExample {
  /** The enterprise provider and its MCP server (/mcp). */
  idp: FastifyInstance
  calendar: FastifyInstance
  /** The second provider and its MCP server (/mcp). */
  resourceAs: FastifyInstance
  urls: { issuer: string, mcp: string, calendar: string, resourceAsIssuer: string, resourceAsMcp: string }
  listen: () => Promise<void>
  close: () => Promise<void>
}

type Tool = (auth: AuthInfo) => Promise<string>

/**
 * A stateless Streamable HTTP MCP server at /mcp with one tool, `whoami` (the official SDK), behind
 * the app's `oidcResourceServer`. Browser origins other than the server's own are refused (MCP
 * transports: servers MUST validate Origin against DNS rebinding).
 */
function mountMcp (app: FastifyInstance, resource: string, scopes: string[], whoami: Tool): void {
  const own = new URL(resource).origin
  app.post('/mcp', {
    config: { accessToken: { scopes } },
    onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
      const origin = request.headers.origin
      if (origin !== undefined && origin !== own) await reply.code(403).send({ jsonrpc: '2.0', error: { code: -32000, message: 'origin not allowed' }, id: null })
    },
  }, async (request, reply) => {
    const token = request.accessToken!
    const auth: AuthInfo = { token: token.token, clientId: token.claims.client_id, scopes: [...token.scopes], expiresAt: token.claims.exp, extra: { sub: token.claims.sub } }
    const server = new McpServer({ name: 'fastify-oidc-provider agent example', version: '1.0.0' })
    server.registerTool('whoami', { description: 'Who the token is for (and, for the delegating server, what the calendar says).' },
      async (extra) => ({ content: [{ type: 'text', text: await whoami(extra.authInfo ?? auth) }] }))
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
    reply.hijack()
    reply.raw.on('close', () => { transport.close().catch(() => {}); server.close().catch(() => {}) })
    await server.connect(transport)
    const raw: IncomingMessage & { auth?: AuthInfo } = request.raw
    raw.auth = auth
    await transport.handleRequest(raw, reply.raw, request.body)
  })
}

/** Builds the three servers from environment variables (tests call this with their own env, then `listen`). */
export async function buildAgentExample (env: ExampleEnv = process.env): Promise<AgentExample> {
  const config = readCommonEnv(env)
  const origin = new URL(config.issuer).origin
  const calendarPort = envVar.integer(env, 'CALENDAR_PORT', { min: 0, max: 65_535, expected: 'a TCP port number' }) ?? 0
  const resourceAsPort = envVar.integer(env, 'RESOURCE_AS_PORT', { min: 0, max: 65_535, expected: 'a TCP port number' }) ?? 0
  // The other two servers' URLs are needed before anything is registered: a port of 0 is picked now.
  const calendarApp = Fastify({ logger: { level: config.logLevel } })
  const resourceAsApp = Fastify({ logger: { level: config.logLevel } })
  const ports = { calendar: calendarPort === 0 ? await freePort(config.host) : calendarPort, resourceAs: resourceAsPort === 0 ? await freePort(config.host) : resourceAsPort }
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  const calendarUrl = `http://${host}:${ports.calendar}/`
  const resourceAsIssuer = `http://${host}:${ports.resourceAs}`
  const mcp = `${origin}/mcp`

  // 1. The enterprise identity provider, with the MCP server and the calendar as resource servers.
  const { app: idp } = await buildExampleServer(env, {
    clients: [
      { ...MCP_CLIENT, grant_types: [TOKEN_EXCHANGE], scope: 'calendar:read' },
      { ...AGENT, redirect_uris: [`${origin}/callback`], grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE], scope: 'openid profile offline_access' },
    ],
    resourceServers: [
      // The MCP server's own client may exchange tokens issued for it (token exchange's safe default).
      { resource: mcp, name: 'Agent example MCP server', scopes: { 'mcp:tools': 'Use the MCP tools', 'calendar:read': 'Read your calendar' }, clientId: MCP_CLIENT.client_id },
      { resource: calendarUrl, name: 'Calendar', scopes: { 'calendar:read': 'Read your calendar' } },
    ],
    tokenExchange: {
      // The safe default, plus: the agent may ask for ID-JAGs for the second provider.
      policy: ({ allowedByDefault, requestedTokenType, client, audience }) =>
        allowedByDefault || (requestedTokenType === 'id-jag' && client.client_id === AGENT.client_id && audience === resourceAsIssuer) ? {} : false,
    },
  })
  await idp.register(oidcResourceServer, { resource: mcp, issuer: idp.oidc.issuer, keys: idp.oidc, scopes: ['mcp:tools', 'calendar:read'] })
  mountMcp(idp, mcp, ['mcp:tools', 'calendar:read'], async (auth) => {
    // RFC 8693: the token this server received, for one to the calendar, with the server as actor.
    const exchange = await fetch(idp.oidc.urls.token, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${MCP_CLIENT.client_id}:${MCP_CLIENT.client_secret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: auth.token, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', resource: calendarUrl, scope: 'calendar:read' }),
    })
    const exchanged = await exchange.json() as { access_token?: string, error?: string }
    if (exchanged.access_token === undefined) return `token exchange refused: ${exchanged.error ?? exchange.status}`
    const answer = await fetch(`${calendarUrl}me`, { headers: { authorization: `Bearer ${exchanged.access_token}` } })
    return await answer.text()
  })

  // 2. The calendar: says whose calendar it serves and who asked for it.
  await calendarApp.register(oidcResourceServer, { resource: calendarUrl, issuer: idp.oidc.issuer, keys: idp.oidc, scopes: ['calendar:read'] })
  calendarApp.get('/me', { config: { accessToken: { scopes: ['calendar:read'] } } }, async (request) => {
    const claims = request.accessToken!.claims as { sub: string, act?: unknown }
    return { calendar_of: claims.sub, act: claims.act ?? null, events: [{ title: 'Stand-up', at: '09:30' }] }
  })

  // 3. The second provider: the MCP server's authorization server, trusting the first for ID-JAGs.
  const resourceAsMcp = `${resourceAsIssuer}/mcp`
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(new URL(config.issuer).hostname)
  await resourceAsApp.register(oidcProvider, {
    issuer: resourceAsIssuer,
    // In memory, ES256 (quick to generate); restarted with the process, as the demo is.
    keys: generatedKeys({ algorithms: ['ES256'] }),
    users: demoUsers,
    ...(config.secretKey === undefined ? {} : { cookieSecret: config.secretKey }),
    clients: [{ ...AGENT, grant_types: [JWT_BEARER], scope: 'mcp:tools' }],
    resourceServers: [{ resource: resourceAsMcp, name: 'Second MCP server', scopes: { 'mcp:tools': 'Use the MCP tools' } }],
    // Keys by discovery of the first provider; on one machine over http, loopback must be allowed.
    trustedIssuers: [{ issuer: idp.oidc.issuer, idJag: true }],
    ...(loopback ? { outbound: { allowLoopback: true, allowHttpLoopback: true } } : {}),
  })
  await resourceAsApp.register(oidcResourceServer, { resource: resourceAsMcp, issuer: resourceAsIssuer, keys: resourceAsApp.oidc, scopes: ['mcp:tools'] })
  mountMcp(resourceAsApp, resourceAsMcp, ['mcp:tools'], async (auth) => String(auth.extra?.sub))

  return {
    idp,
    calendar: calendarApp,
    resourceAs: resourceAsApp,
    urls: { issuer: idp.oidc.issuer, mcp, calendar: calendarUrl, resourceAsIssuer, resourceAsMcp },
    listen: async () => {
      await calendarApp.listen({ port: ports.calendar, host: config.host })
      await resourceAsApp.listen({ port: ports.resourceAs, host: config.host })
      await idp.listen({ port: config.port, host: config.host })
    },
    close: async () => { await Promise.all([idp.close(), calendarApp.close(), resourceAsApp.close()]) },
  }
}

/** A port free on `host` now (the OS picks it). */
async function freePort (host: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

async function main (): Promise<void> {
  loadDotEnv()
  const example = await buildAgentExample()
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { example.close().then(() => process.exit(0), () => process.exit(1)) })
  }
  await example.listen()
  const { urls } = example
  example.idp.log.info(`enterprise provider: ${urls.issuer}; MCP server (whoami exchanges your token for the calendar): ${urls.mcp}`)
  example.idp.log.info(`calendar API: ${urls.calendar}me`)
  example.idp.log.info(`second provider (trusts ID-JAGs of the first): ${urls.resourceAsIssuer}; its MCP server: ${urls.resourceAsMcp}`)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  runExample('agent example', main)
}
