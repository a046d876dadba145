import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../contracts/context.js'
import type { InteractionService } from '../interactions/service.js'
import { discoveryRoutes } from './discovery.js'
import { jwksRoutes } from './jwks.js'
import { registerRoutes } from './register.js'
import { authorizeRoutes } from './authorize.js'
import { consentRoutes } from './consent.js'
import { tokenRoutes } from './token.js'
import { userinfoRoutes } from './userinfo.js'
import { introspectRoutes } from './introspect.js'
import { revokeRoutes } from './revoke.js'
import { endSessionRoutes } from './end-session.js'
import { corsRoutes } from '../http/cors.js'
import { parRoutes } from './par.js'
import { passkeyRoutesModule } from './passkeys.js'
import { accountRoutesModule } from './account.js'
import { deviceAuthorizationRoutes, deviceVerificationRoutes } from './device-authorization.js'

export type RouteModule = (app: FastifyInstance, ctx: ProviderContext) => Promise<void>

/** A browser route module: it also gets the provider's interaction service (made once, shared with app.oidc). */
export type BrowserRouteModule = (app: FastifyInstance, ctx: ProviderContext, interactions: InteractionService) => Promise<void>

/**
 * The endpoints no browser cookie reaches (back-channel and public documents), registered in this
 * order inside the provider's encapsulated context.
 */
export const routeModules: readonly RouteModule[] = [
  // First: its onRoute hook gives the CORS routes their onSend hooks as they are declared (the
  // hook is inherited by the browser routes' context, registered after these).
  corsRoutes,
  discoveryRoutes,
  jwksRoutes,
  registerRoutes,
  tokenRoutes,
  userinfoRoutes,
  introspectRoutes,
  revokeRoutes,
  parRoutes,
  deviceAuthorizationRoutes,
]

/**
 * The browser endpoints, the only ones that read or write the provider's cookies (lib/http/cookies.ts):
 * registered in a child context that alone holds @fastify/cookie, whose `onSend` hook (added even
 * with `hook: false`) would otherwise run on every route above too.
 */
export const browserRouteModules: readonly BrowserRouteModule[] = [
  authorizeRoutes,
  consentRoutes,
  endSessionRoutes,
  passkeyRoutesModule,
  deviceVerificationRoutes,
  accountRoutesModule,
]
