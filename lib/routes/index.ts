import type { FastifyInstance } from 'fastify'
import type { ProviderContext } from '../context.js'
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
import { parRoutes } from '../par/route.js'

export type RouteModule = (app: FastifyInstance, ctx: ProviderContext) => Promise<void>

/** Every endpoint module, registered in this order inside the provider's encapsulated context. */
export const routeModules: readonly RouteModule[] = [
  // First: its onRoute hook gives the CORS routes their onSend hooks as they are declared.
  corsRoutes,
  discoveryRoutes,
  jwksRoutes,
  registerRoutes,
  authorizeRoutes,
  consentRoutes,
  tokenRoutes,
  userinfoRoutes,
  introspectRoutes,
  revokeRoutes,
  endSessionRoutes,
  parRoutes,
]
