import { createWriteStream } from 'node:fs'
import type { FastifyBaseLogger } from 'fastify'
import type { OidcHostApi } from '../lib/index.js'

/**
 * AUDIT_LOG=path: appends every audit record (`app.oidc.onAudit`) to the file as one JSON line.
 * The records hold ids, never tokens or secrets; ship the file wherever audit logs go (a SIEM,
 * object storage). Returns the function that stops writing and closes the file.
 */
export function writeAuditLog (oidc: OidcHostApi, path: string, log: FastifyBaseLogger): () => Promise<void> {
  const file = createWriteStream(path, { flags: 'a' })
  file.on('error', (error) => { log.error({ err: error, path }, 'audit log: cannot write') })
  const unsubscribe = oidc.onAudit((record) => { file.write(`${JSON.stringify(record)}\n`) })
  return async () => {
    unsubscribe()
    await new Promise<void>((resolve) => { file.end(resolve) })
  }
}
