import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/**
 * A throwaway self-signed certificate for 127.0.0.1 and localhost (a P-256 key, valid one day),
 * made with the openssl binary at test time so no key is ever committed. Resolves a string
 * (why not) when openssl is missing. Pass `cert` as `outbound.ca` to let the provider trust it.
 */
export async function selfSignedCertificate (): Promise<{ key: string, cert: string } | string> {
  const dir = await mkdtemp(join(tmpdir(), 'oidc-tls-'))
  try {
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ], { timeout: 30_000 })
    return { key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(join(dir, 'cert.pem'), 'utf8') }
  } catch (error) {
    return `openssl could not make a certificate: ${(error as Error).message}`
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
