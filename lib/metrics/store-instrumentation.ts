import { performance } from 'node:perf_hooks'
import type { Counter, Histogram } from 'prom-client'
import type { Store } from '../adapters/store/types.js'

type Method = (...args: unknown[]) => unknown

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
    return (...args) => {
      const started = performance.now()
      const done = (): void => { timer.observe((performance.now() - started) / 1000) }
      let result: unknown
      try {
        result = method.apply(store, args)
      } catch (error) {
        done()
        failed.inc()
        throw error
      }
      if (!(result instanceof Promise)) {
        done()
        return result
      }
      return result.then(
        (value: unknown) => { done(); return value },
        (error: unknown) => { done(); failed.inc(); throw error }
      )
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
