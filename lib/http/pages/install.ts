import type { FastifyInstance } from 'fastify'
import { fileURLToPath } from 'node:url'
import type { ProviderContext } from '../../contracts/context.js'
import { invalidOption } from '../../contracts/errors.js'
import { PageRenderer } from './renderer.js'

const viewsDir = fileURLToPath(new URL('./views/', import.meta.url))
const renderers = new WeakMap<ProviderContext, PageRenderer>()

/** The provider's page renderer, made once from the `pages` option (a bad option fails `register`). */
export function pagesOf (ctx: ProviderContext): PageRenderer {
  let renderer = renderers.get(ctx)
  if (renderer === undefined) {
    try {
      renderer = new PageRenderer(viewsDir, ctx.options.pages)
    } catch (error) {
      throw invalidOption('pages', (error as Error).message)
    }
    renderers.set(ctx, renderer)
  }
  return renderer
}

/** Gives the provider's own routes `reply.oidcPages` (the host's replies never see it). */
export function installPages (child: FastifyInstance, ctx: ProviderContext): void {
  const renderer = pagesOf(ctx)
  child.decorateReply('oidcPages', { getter: () => renderer })
}
