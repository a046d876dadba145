import type { FastifyRequest } from 'fastify'
import type { InteractionRecord } from '../contracts/store.js'
import type { ProviderContext } from '../contracts/context.js'
import { publicClient } from '../tokens/claims-hook.js'
import { pageLocale } from '../http/pages/locale.js'
import { scopeDescription } from '../http/pages/scope-text.js'
import { promptOf } from './binding.js'
import { restoreRequest } from './stored-request.js'
import type { AuthorizationRequest } from './types.js'
import type { Interaction, InteractionScope } from '../contracts/interactions.js'

/** The public view of a pending interaction (what `app.oidc.getInteraction` returns). */
export function toInteraction (ctx: ProviderContext, record: InteractionRecord, authorization: AuthorizationRequest, request: FastifyRequest): Interaction {
  const catalogs = ctx.pages.catalogs
  const locale = pageLocale(catalogs, request, authorization.uiLocales)
  const scopes: InteractionScope[] = authorization.scopes.map((name) => ({
    name,
    description: scopeDescription(ctx, catalogs, locale, name),
    claims: [...ctx.options.scopeRegistry.claimsOf(name)],
  }))
  const interaction: Interaction = {
    id: record.interactionId,
    // Only login and consent records get here; a pending logout has its own view (LogoutInteraction).
    prompt: promptOf(record) === 'consent' ? 'consent' : 'login',
    client: publicClient(authorization.client),
    scopes,
    prompts: [...authorization.prompt],
    uiLocales: authorization.uiLocales ?? [],
    locale,
    acrValues: authorization.acrValues ?? [],
    csrfToken: record.csrfToken,
    expiresAt: record.expiresAt,
  }
  if (authorization.claims !== undefined) interaction.claims = authorization.claims
  if (authorization.deviceCodeHash !== undefined) interaction.device = true
  if (authorization.loginHint !== undefined) interaction.loginHint = authorization.loginHint
  if (authorization.maxAge !== undefined) interaction.maxAge = authorization.maxAge
  if (record.accountId !== undefined) {
    interaction.account = {
      accountId: record.accountId,
      authTime: record.authTime ?? 0,
      ...(record.acr === undefined ? {} : { acr: record.acr }),
      ...(record.amr === undefined ? {} : { amr: record.amr }),
    }
  }
  return interaction
}

/** The public view of a record, for `getInteraction` and our own pages, with the request it holds. */
export async function describeInteraction (ctx: ProviderContext, record: InteractionRecord, request: FastifyRequest): Promise<{ interaction: Interaction, authorization: AuthorizationRequest }> {
  const authorization = await restoreRequest(ctx, record.params)
  return { interaction: toInteraction(ctx, record, authorization, request), authorization }
}
