import type { Registry } from 'prom-client'
import { InvalidOptionError } from './errors.js'

/**
 * The `metrics` option (issue 19). `true` is `{}`: a registry of the provider's own, no route.
 *
 * @example
 * metrics: { registry: hostRegistry, prefix: 'idp_', route: '/metrics' }
 */
export interface MetricsOptions {
  /**
   * A prom-client `Registry` of the host's to register the provider's metrics in (they are
   * removed from it on `app.close()`). Default: a new registry, `app.oidc.metrics.registry`,
   * which the host can expose itself or merge (`Registry.merge([own, app.oidc.metrics.registry])`).
   */
  registry?: Registry
  /** Prepended to every metric name. Default `oidc_`. */
  prefix?: string
  /**
   * Serves the registry (Prometheus text format) at this path, under the plugin's `prefix`.
   * Default false: a provider on the internet should not publish its traffic to everyone, so the
   * host chooses (a route behind its own auth, another port, or the merged registry).
   */
  route?: string | false
}

export interface ResolvedMetricsOptions {
  registry: Registry | undefined
  prefix: string
  route: string | false
}

const metricPrefix = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

/** Checks the option in code (a registry is an object with methods, outside the data schema). */
export function resolveMetricsOptions (option: boolean | MetricsOptions | undefined): ResolvedMetricsOptions | undefined {
  if (option === undefined || option === false) return undefined
  if (option === true) return { registry: undefined, prefix: 'oidc_', route: false }
  if (typeof option !== 'object' || option === null) throw new InvalidOptionError('metrics', 'must be a boolean or an object')
  const { registry, prefix = 'oidc_', route = false } = option
  if (registry !== undefined && typeof (registry as { registerMetric?: unknown }).registerMetric !== 'function') {
    throw new InvalidOptionError('metrics.registry', 'must be a prom-client Registry')
  }
  if (typeof prefix !== 'string' || (prefix !== '' && !metricPrefix.test(prefix))) {
    throw new InvalidOptionError('metrics.prefix', 'must be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)')
  }
  if (route !== false && (typeof route !== 'string' || !/^\/[^?#]*$/.test(route))) {
    throw new InvalidOptionError('metrics.route', 'must be false or a path starting with /')
  }
  return { registry, prefix, route }
}
