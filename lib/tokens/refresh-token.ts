import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto'
import type { ClientRecord } from '../contracts/store.js'
import { randomBuffer, randomToken, sha256 } from './crypto.js'
import { clientScopes, scopeSet, scopeValues } from './issue.js'

/**
 * Refresh-token families (RFC 9700 §4.14.2): everything descending from one authorization code.
 *
 * A family's refresh token names its grant and family, so the store finds the family beside its
 * grant (one hash slot) in one step: `<grantId>~<familyId>~<256 random bits>`. The ids are not
 * secrets (access tokens carry them too); the random part is, and the store keeps only the
 * SHA-256 of the whole token.
 */
export interface ParsedRefreshToken {
  grantId: string
  familyId: string
  tokenHash: string
}

const idPattern = /^[\w-]{1,64}$/
const secretPattern = /^[\w-]{43}$/

/** The family of the tokens issued from one code: derived from the code's hash, so a replay finds it. */
export function familyIdForCode (codeHash: string): string {
  return sha256(`refresh-family\n${codeHash}`).slice(0, 22)
}

export function newFamilyRefreshToken (grantId: string, familyId: string): { token: string, tokenHash: string } {
  const token = `${grantId}~${familyId}~${randomToken(32)}`
  return { token, tokenHash: sha256(token) }
}

/** A family refresh token's parts, or undefined for anything else (never an error: invalid_grant). */
export function parseRefreshToken (token: string): ParsedRefreshToken | undefined {
  const parts = token.split('~')
  if (parts.length !== 3) return undefined
  const [grantId = '', familyId = '', secret = ''] = parts
  if (!idPattern.test(grantId) || !idPattern.test(familyId) || !secretPattern.test(secret)) return undefined
  return { grantId, familyId, tokenHash: sha256(token) }
}

/**
 * The key that seals a successor: HKDF-SHA256 of the presented token itself. Only a holder of
 * the presented token can derive it; the store holds the token's SHA-256 (a different function
 * of it, with no path back), so a copy of the store opens nothing.
 */
function sealingKey (presented: string, parsed: ParsedRefreshToken): Buffer {
  return Buffer.from(hkdfSync('sha256', presented, 'fastify-oidc-provider refresh successor v1', `${parsed.grantId}~${parsed.familyId}`, 32))
}

/** AES-256-GCM of the successor under the presented token's key: `iv.ciphertext.tag`, base64url. */
export function sealSuccessor (presented: string, parsed: ParsedRefreshToken, successor: string): string {
  const iv = randomBuffer(12)
  const cipher = createCipheriv('aes-256-gcm', sealingKey(presented, parsed), iv)
  const sealed = Buffer.concat([cipher.update(successor, 'utf8'), cipher.final()])
  return [iv, sealed, cipher.getAuthTag()].map((part) => part.toString('base64url')).join('.')
}

/** Opens what `sealSuccessor` sealed with the same presented token; undefined if it does not open. */
export function openSuccessor (presented: string, parsed: ParsedRefreshToken, sealed: string): string | undefined {
  const [iv, data, tag] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'))
  if (iv === undefined || data === undefined || tag === undefined || iv.length !== 12 || tag.length !== 16) return undefined
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(presented, parsed), iv)
    decipher.setAuthTag(tag)
    return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8')
  } catch {
    return undefined
  }
}

/** The request's `scope` as the store compares it: distinct values, sorted; undefined when absent. */
export function normalizeScope (scope: string | undefined): string | undefined {
  return scope === undefined ? undefined : [...scopeSet(scope)].sort().join(' ')
}

/**
 * Issue 12 (RFC 7592 updates that narrow a client): tokens issued from now on carry only the
 * scopes the client is still registered for. Access tokens already issued keep theirs until
 * they expire (`ttl.accessToken`); revoke the grant to end them at once.
 */
export function narrowToClient (client: ClientRecord, scope: string): string {
  const registered = clientScopes(client)
  // What `[...scopeSet(scope)].filter(registered).join(' ')` gives, without the set and the
  // array on every code redemption and refresh.
  let kept = ''
  for (const value of scopeValues(scope)) {
    if (registered.has(value)) kept = kept === '' ? value : `${kept} ${value}`
  }
  return kept
}
