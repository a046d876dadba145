import type { ClientRecord } from '../../contracts/store.js'

/** The `client` label of every client the host did not configure. */
export const dynamicClientLabel = 'dynamic'

/**
 * The `client` label: a static client's id (the host configured them, so they are few), and
 * `dynamic` for every other (registered, or a metadata-document URL): clients anyone can create
 * must not create time series, which Prometheus keeps for each distinct label value.
 */
export function clientLabeller (staticClients: ReadonlyMap<string, ClientRecord>): (clientId: string | undefined) => string {
  return (clientId) => clientId !== undefined && staticClients.has(clientId) ? clientId : dynamicClientLabel
}
