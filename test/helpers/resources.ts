import type { FastifyInstance } from 'fastify'
import type { ResourceServer, StaticClient } from '../../lib/index.js'
import { basic, postForm } from './codes.js'
import { runCodeFlow } from './flow.js'

export const API_A = 'https://api.example/'
export const API_B = 'https://other-api.example/v1'
export const API_A_CREDENTIALS = { clientId: 'api-a', clientSecret: 'api-a-introspection-secret' }
export const API_B_CREDENTIALS = { clientId: 'api-b', clientSecret: 'api-b-introspection-secret' }
export const RS_REDIRECT = 'https://rp.example.com/cb'
export const RS_CLIENT = { client_id: 'notes-web', client_secret: 'notes-web-secret-0123456789' }
export const RS_SERVICE = { client_id: 'notes-job', client_secret: 'notes-job-secret-0123456789' }

/** Two APIs: A accepts notes scopes, B accepts a scope of its own (and notes:read too). */
export function testResourceServers (): ResourceServer[] {
  return [
    { resource: API_A, name: 'Notes API', scopes: { 'notes:read': 'Read your notes', 'notes:write': 'Write your notes' }, introspection: { ...API_A_CREDENTIALS } },
    { resource: API_B, scopes: { 'calendar:read': 'See your calendar', 'notes:read': 'Read your notes' }, accessTokenTtl: 120, introspection: { ...API_B_CREDENTIALS } },
  ]
}

export function testResourceClients (redirectUri = RS_REDIRECT): StaticClient[] {
  return [
    { ...RS_CLIENT, redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile offline_access notes:read notes:write calendar:read', first_party: true },
    { ...RS_SERVICE, grant_types: ['client_credentials'], scope: 'notes:read notes:write calendar:read' },
  ]
}

export interface TokenSet {
  access_token: string
  refresh_token?: string
  id_token?: string
  scope?: string
  expires_in: number
  [name: string]: unknown
}

/** Runs the code flow (first-party client: no consent page) and redeems the code. */
export async function userTokens (
  app: FastifyInstance,
  options: { scope: string, resources?: string[], tokenResource?: string | string[], prefix?: string }
): Promise<{ status: number, body: TokenSet & { error?: string } }> {
  const flow = await runCodeFlow(app, {
    clientId: RS_CLIENT.client_id,
    redirectUri: RS_REDIRECT,
    scope: options.scope,
    ...(options.resources === undefined ? {} : { resources: options.resources }),
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
  })
  if (flow.code === null) throw new Error(`no code: ${flow.location.href}`)
  const res = await postForm(app, `${options.prefix ?? ''}/token`, {
    grant_type: 'authorization_code',
    code: flow.code,
    redirect_uri: RS_REDIRECT,
    code_verifier: flow.verifier,
    ...(options.tokenResource === undefined ? {} : { resource: options.tokenResource }),
  }, { authorization: basic(RS_CLIENT.client_id, RS_CLIENT.client_secret) })
  return { status: res.statusCode, body: res.json() }
}
