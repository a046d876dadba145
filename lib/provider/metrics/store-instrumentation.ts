import { performance } from 'node:perf_hooks'
import type { Counter, Histogram } from 'prom-client'
import type { Store } from '../../contracts/store.js'

type Method = (...args: unknown[]) => Promise<unknown>

/**
 * The store seen through a Proxy that times each method call (`operation` = the method name,
 * a fixed set) and counts the calls that throw or reject. Only made when metrics are enabled:
 * without them the provider calls the store directly. Anything that is not a method (or not
 * named by a string) passes through untouched, and methods run with the real store as `this`,
 * so private fields and getters keep working.
 */
export function instrumentStore (
  store: Store,
  duration: Histogram<'operation'>,
  errors: Counter<'operation'>
): Store {
  const wrapped = new Map<string, Method>()
  const wrap = (operation: string, method: Method): Method => {
    // Label children bound once per operation: a call costs two clock reads and one observe.
    const timer = duration.labels({ operation })
    const failed = errors.labels({ operation })
    // Store methods are async by contract, so the wrapper is too (a sync throw becomes a rejection).
    return async (...args) => {
      const started = performance.now()
      try {
        return await method.apply(store, args)
      } catch (error) {
        failed.inc()
        throw error
      } finally {
        timer.observe((performance.now() - started) / 1000)
      }
    }
  }
  return new Proxy(store, {
    get (target, property) {
      const value: unknown = Reflect.get(target, property, target)
      if (typeof property !== 'string' || typeof value !== 'function' || property === 'constructor') return value
      let method = wrapped.get(property)
      if (method === undefined) {
        method = wrap(property, value as Method)
        wrapped.set(property, method)
      }
      return method
    },
  })
}
