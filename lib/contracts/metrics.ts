import type { Registry } from 'prom-client'

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
