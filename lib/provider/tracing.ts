import { storeMethods, type Store } from '../contracts/store.js'
import { inSpan } from '../contracts/tracing.js'

/**
 * The store with one span per operation (`oidc.store.<method>`), wired once here so every
 * concern's store calls are traced. The only attribute is the operation's name: arguments are
 * hashes, ids and records, never put on a span.
 */
export function traceStore (store: Store): Store {
  const traced: Record<string, unknown> = {}
  for (const method of Object.keys(storeMethods) as Array<keyof Store>) {
    const original = store[method] as ((...args: unknown[]) => Promise<unknown>) | undefined
    if (typeof original !== 'function') continue
    const name = `oidc.store.${method}`
    const attributes = { 'oidc.store.operation': method }
    traced[method] = async (...args: unknown[]) => await inSpan(name, attributes, async () => await original.apply(store, args))
  }
  return traced as unknown as Store
}
