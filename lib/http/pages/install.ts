import type { FastifyInstance } from 'fastify'
import { fileURLToPath } from 'node:url'
import type { PagesOptions, ProviderPages } from '../../contracts/pages.js'
import { invalidOption } from '../../contracts/errors.js'
import { PageRenderer } from './renderer.js'

const viewsDir = fileURLToPath(new URL('./views/', import.meta.url))

/** The provider's pages (`ctx.pages`), made once from the `pages` option: a bad one fails `register`. */
export function createPages (options: PagesOptions): ProviderPages {
  try {
    return new PageRenderer(viewsDir, options)
  } catch (error) {
    throw invalidOption('pages', (error as Error).message)
  }
}

/** Gives the provider's own routes `reply.oidcPages` (the host's replies never see it). */
export function installPages (child: FastifyInstance, pages: ProviderPages): void {
  child.decorateReply('oidcPages', { getter: () => pages })
}
