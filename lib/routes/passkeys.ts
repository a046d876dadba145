import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import { passkeyRoutes } from '../contracts/urls.js'
import { formBody } from '../http/forms.js'
import { browserFormGuard } from '../http/browser-form.js'
import { BuiltInPages, type InteractionService } from '../interactions/service.js'

const here = dirname(fileURLToPath(import.meta.url))

/** @simplewebauthn/browser's UMD bundle (global `SimpleWebAuthnBrowser`), read once. */
function libraryBundle (): Buffer {
  const require = createRequire(import.meta.url)
  const entry = require.resolve('@simplewebauthn/browser')
  const name = '@simplewebauthn/browser'
  const root = entry.slice(0, entry.lastIndexOf(name) + name.length)
  return readFileSync(join(root, 'dist', 'bundle', 'index.umd.min.js'))
}

/**
 * The passkey routes of our pages (only with the `passkeys` option): the two scripts, served
 * from here with long caching, and the ceremony steps. Each POST goes through the browser form
 * guard and loads its interaction with the CSRF token, like the password form.
 */
export async function passkeyRoutesModule (app: FastifyInstance, ctx: ProviderContext, interactions: InteractionService): Promise<void> {
  const passkeys = new BuiltInPages(interactions).passkeys
  if (passkeys === undefined) return
  const library = libraryBundle()
  const script = readFileSync(join(here, '..', 'http', 'pages', 'views', 'passkeys.js'))
  const scriptHeaders = {
    'content-type': 'text/javascript; charset=utf-8',
    'cache-control': 'public, max-age=3600',
    'x-content-type-options': 'nosniff',
  }
  const config = { html: true }
  const guard = browserFormGuard(ctx)

  app.get(passkeyRoutes.library, async (_request, reply) => await reply.headers(scriptHeaders).send(library))
  app.get(passkeyRoutes.script, async (_request, reply) => await reply.headers(scriptHeaders).send(script))

  app.post(passkeyRoutes.loginOptions, { preValidation: guard }, async (request, reply) => await passkeys.loginOptions(request, reply))
  app.post(passkeyRoutes.login, { config, preValidation: guard }, async (request, reply) => await passkeys.submitLogin(formBody(request), request, reply))
  app.post(passkeyRoutes.enrolOptions, { preValidation: guard }, async (request, reply) => await passkeys.enrolOptions(formBody(request), request, reply))
  app.post(passkeyRoutes.enrol, { config, preValidation: guard }, async (request, reply) => await passkeys.submitEnrol(formBody(request), request, reply))
}
