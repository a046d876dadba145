import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import { accountRoutes } from '../contracts/urls.js'
import { formBody } from '../http/forms.js'
import { browserFormGuard } from '../http/browser-form.js'
import type { InteractionService } from '../interactions/service.js'
import { passkeyScriptSource, passkeyUrls } from '../interactions/passkey-urls.js'
import { passkeyOptions, showAccountPage, submitEndSession, submitPasskeyAdd, submitPasskeyChange, submitRevokeApp, type AccountPageDeps } from '../sessions/account-page.js'

/**
 * The account page (only with the `accountPage` option): the page and its forms (apps,
 * sessions, and passkeys when the `passkeys` option is on). Each POST passes the cross-site
 * form guard before anything is read, then the session-bound CSRF check.
 */
export async function accountRoutesModule (app: FastifyInstance, ctx: ProviderContext, service: InteractionService): Promise<void> {
  if (!ctx.options.accountPage) return
  const ceremonies = service.passkeys
  const urls = passkeyUrls(ctx.basePath)
  const deps: AccountPageDeps = {
    ctx,
    cookies: service.deps.cookies,
    ...(ceremonies === undefined
      ? {}
      : {
          passkeys: {
            list: async (accountId) => await ceremonies.list(accountId),
            rename: async (accountId, credentialId, name) => await ceremonies.rename(accountId, credentialId, name),
            remove: async (accountId, credentialId) => await ceremonies.remove(accountId, credentialId),
            registrationOptions: async (reply, user) => await ceremonies.registrationOptions(reply, user),
            verifyRegistration: async (request, input) => await ceremonies.verifyRegistration(request, input),
            scripts: { library: urls.library, script: urls.script, source: passkeyScriptSource(ctx.issuer, ctx.basePath) },
          },
        }),
  }
  const config = { html: true }
  const preValidation = browserFormGuard(ctx)

  app.get(accountRoutes.page, { config }, async (request, reply) => await showAccountPage(deps, request, reply))
  app.post(accountRoutes.revokeApp, { config, preValidation }, async (request, reply) => await submitRevokeApp(deps, formBody(request), request, reply))
  app.post(accountRoutes.endSession, { config, preValidation }, async (request, reply) => await submitEndSession(deps, formBody(request), request, reply))
  if (ceremonies === undefined) return
  // The options answer JSON to the page's script; the other three are forms.
  app.post(accountRoutes.passkeyOptions, { preValidation }, async (request, reply) => await passkeyOptions(deps, formBody(request), request, reply))
  app.post(accountRoutes.passkeyAdd, { config, preValidation }, async (request, reply) => await submitPasskeyAdd(deps, formBody(request), request, reply))
  app.post(accountRoutes.passkeyRename, { config, preValidation }, async (request, reply) => await submitPasskeyChange(deps, 'rename', formBody(request), request, reply))
  app.post(accountRoutes.passkeyRemove, { config, preValidation }, async (request, reply) => await submitPasskeyChange(deps, 'remove', formBody(request), request, reply))
}
