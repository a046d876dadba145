import type { ProviderContext } from '../contracts/context.js'
import type { GrantActivity } from '../contracts/store.js'
import { notifyGrantRevoked } from './backchannel.js'

/**
 * One app a user let in: one grant (their consent to a client) with what it holds now. A
 * client consented to twice (a consent replaced before the first one ended) is listed twice.
 */
export interface ConnectedApp {
  /** The grant: revoking it ends every code and token issued under it. */
  grantId: string
  clientId: string
  /** The client's registered name, when it has one. */
  clientName?: string
  /** The client's registered `logo_uri`, when it has one (show it only as an image URL). */
  logoUri?: string
  /** The scopes consented to. */
  scopes: string[]
  /** RFC 8707 resources its live token families were granted. */
  resources: string[]
  /** When the user consented (epoch seconds). */
  createdAt: number
  /** When tokens were last issued under it: a code exchange or a refresh (epoch seconds). */
  lastUsedAt: number
  /** Whether a live token family holds `offline_access` (refresh tokens that outlive sign-out). */
  offlineAccess: boolean
  /** The login sessions (their public `sid`) its live token families were issued in. */
  sessions: string[]
}

export interface ConnectedAppsPage {
  apps: ConnectedApp[]
  /** Pass as `after` for the next page; absent on the last one. */
  next?: string
}

/** Where a page starts and how long it is (1 to 100, default 50). */
export interface ConnectedAppsQuery {
  after?: string
  limit?: number
}

const defaultLimit = 50
const maxLimit = 100

/**
 * One page of a user's connected apps, from the account's own grant index (never a scan of
 * every grant). Only this account's grants can appear: the store reads its index alone.
 *
 * @example
 * const { apps, next } = await listConnectedApps(ctx, accountId, { limit: 20 })
 */
export async function listConnectedApps (ctx: ProviderContext, accountId: string, query: ConnectedAppsQuery = {}): Promise<ConnectedAppsPage> {
  const limit = Math.min(Math.max(Math.floor(query.limit ?? defaultLimit), 1), maxLimit)
  const page = await ctx.store.listAccountGrants(accountId, { limit, ...(query.after === undefined ? {} : { after: query.after }) })
  const apps = await Promise.all(page.grants.map(async (grant) => await describe(ctx, grant)))
  return page.next === undefined ? { apps } : { apps, next: page.next }
}

/**
 * Revokes what the user let `clientId` do: every grant of this account to it, and with each
 * every code, refresh token, family and access token issued under it (grant liveness: one
 * delete, seen by every instance). The client is told by back-channel logout when it
 * registered for it. Returns how many grants ended.
 *
 * @example
 * await revokeConnectedApp(ctx, accountId, 'photo-app', 'account')
 */
export async function revokeConnectedApp (ctx: ProviderContext, accountId: string, clientId: string, reason: string): Promise<number> {
  const grants = (await allGrants(ctx, accountId)).filter((grant) => grant.clientId === clientId)
  return await revokeListed(ctx, grants, reason)
}

/**
 * Revokes every app the user let in, as `revokeConnectedApp` does for each, then sweeps any
 * grant given while the list was read. Returns how many grants ended.
 */
export async function revokeAllConnectedApps (ctx: ProviderContext, accountId: string, reason: string): Promise<number> {
  const count = await revokeListed(ctx, await allGrants(ctx, accountId), reason)
  return count + await ctx.store.revokeAccountGrants(accountId)
}

async function revokeListed (ctx: ProviderContext, grants: GrantActivity[], reason: string): Promise<number> {
  let count = 0
  for (const grant of grants) {
    if (!await ctx.store.revokeGrant(grant.grantId)) continue
    count++
    ctx.audit('grant.revoked', { grantId: grant.grantId, accountId: grant.accountId, clientId: grant.clientId, reason })
    notifyGrantRevoked(ctx, grant.accountId, grant.clientId, sidsOf(grant))
  }
  return count
}

async function allGrants (ctx: ProviderContext, accountId: string): Promise<GrantActivity[]> {
  const grants: GrantActivity[] = []
  let after: string | undefined
  do {
    const page = await ctx.store.listAccountGrants(accountId, { limit: maxLimit, ...(after === undefined ? {} : { after }) })
    grants.push(...page.grants)
    after = page.next
  } while (after !== undefined)
  return grants
}

async function describe (ctx: ProviderContext, grant: GrantActivity): Promise<ConnectedApp> {
  const client = await ctx.clients.find(grant.clientId)
  const resources = new Set(grant.families.flatMap((family) => family.resources ?? []))
  return {
    grantId: grant.grantId,
    clientId: grant.clientId,
    ...(client?.client_name === undefined ? {} : { clientName: client.client_name }),
    ...(client?.logo_uri === undefined ? {} : { logoUri: client.logo_uri }),
    scopes: grant.scope.split(' ').filter((scope) => scope !== ''),
    resources: [...resources].sort(),
    createdAt: grant.createdAt,
    lastUsedAt: Math.max(grant.createdAt, ...grant.families.map((family) => family.lastUsedAt)),
    offlineAccess: grant.families.some((family) => family.offline),
    sessions: sidsOf(grant),
  }
}

function sidsOf (grant: GrantActivity): string[] {
  return [...new Set(grant.families.flatMap((family) => family.sid === undefined ? [] : [family.sid]))].sort()
}
