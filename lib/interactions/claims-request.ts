import type { ClaimRequest, ClaimsRequest } from '../contracts/interactions.js'
import { redirectError } from './errors.js'

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/** OIDC Core §5.5: parses and checks the `claims` parameter, a JSON object of `id_token` and `userinfo` members. */
export function parseClaimsRequest (raw: string): ClaimsRequest {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    throw redirectError('invalid_request', 'the claims parameter is not valid JSON')
  }
  if (!isObject(parsed)) throw redirectError('invalid_request', 'the claims parameter must be a JSON object')
  const request: ClaimsRequest = {}
  for (const member of ['id_token', 'userinfo'] as const) {
    const value = parsed[member]
    if (value === undefined) continue
    if (!isObject(value)) throw redirectError('invalid_request', `claims.${member} must be an object`)
    const claims: Record<string, ClaimRequest | null> = Object.create(null) as Record<string, ClaimRequest | null>
    for (const [name, spec] of Object.entries(value)) {
      if (spec !== null && !isObject(spec)) throw redirectError('invalid_request', `claims.${member}.${name} must be null or an object`)
      claims[name] = spec === null ? null : spec as ClaimRequest
    }
    request[member] = claims
  }
  return request
}
