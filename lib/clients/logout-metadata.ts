import { OAuthError } from '../contracts/errors.js'
import { checkOutboundUrl, type OutboundPolicy } from '../http/outbound-policy.js'
import type { ApplicationType } from '../contracts/store.js'
import type { LogoutMetadata } from '../contracts/clients.js'

export interface LogoutMetadataRules {
  applicationType: ApplicationType
  /**
   * The outbound fetcher's policy (`outbound`): a back-channel URI is accepted exactly when the
   * fetcher will deliver to it (http/outbound-policy.ts, the one rule both call).
   */
  outbound: OutboundPolicy
  /** The same checks redirect_uris get (parse, then per application type). */
  checkRedirectUri: (uri: string, type: ApplicationType) => void
}

const invalid = (description: string): OAuthError => new OAuthError('invalid_client_metadata', description)
const maxUris = 20
const maxUriLength = 2000

/**
 * Validates the logout metadata of a registration or static client. `post_logout_redirect_uris`
 * follow the redirect_uris rules (absolute, no fragment, https or loopback http, private-use
 * schemes for native apps); `backchannel_logout_uri` must be a URL the outbound fetcher will
 * deliver to (https; http on loopback only with `outbound.allowHttpLoopback`, for development),
 * without fragment (BCL §2.2) or credentials.
 */
export function validateLogoutMetadata (body: Record<string, unknown>, rules: LogoutMetadataRules): LogoutMetadata {
  const metadata: LogoutMetadata = {}
  const uris = body.post_logout_redirect_uris
  if (uris !== undefined && uris !== null) {
    if (!Array.isArray(uris) || uris.some((uri) => typeof uri !== 'string')) throw invalid('post_logout_redirect_uris must be an array of strings')
    const distinct = [...new Set(uris as string[])]
    if (distinct.length > maxUris) throw invalid(`at most ${maxUris} post_logout_redirect_uris`)
    for (const uri of distinct) {
      try {
        rules.checkRedirectUri(uri, rules.applicationType)
      } catch (error) {
        if (error instanceof OAuthError) throw invalid(`post_logout_redirect_uris: ${error.error_description}`)
        throw error
      }
    }
    metadata.post_logout_redirect_uris = distinct
  }

  const backchannel = body.backchannel_logout_uri
  if (backchannel !== undefined && backchannel !== null) {
    if (typeof backchannel !== 'string') throw invalid('backchannel_logout_uri must be a string')
    metadata.backchannel_logout_uri = checkBackchannelUri(backchannel, rules.outbound)
  }
  const required = body.backchannel_logout_session_required
  if (required !== undefined && required !== null) {
    if (typeof required !== 'boolean') throw invalid('backchannel_logout_session_required must be a boolean')
    metadata.backchannel_logout_session_required = required
  }
  return metadata
}

function checkBackchannelUri (value: string, outbound: OutboundPolicy): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw invalid('backchannel_logout_uri must be an absolute URL')
  }
  if (value.length > maxUriLength) throw invalid(`backchannel_logout_uri is longer than ${maxUriLength} characters`)
  // BCL §2.2: "MUST NOT include a fragment component".
  if (value.includes('#')) throw invalid('backchannel_logout_uri must not contain a fragment')
  if (url.username !== '' || url.password !== '') throw invalid('backchannel_logout_uri must not contain credentials')
  const delivery = checkOutboundUrl(value, outbound)
  if (delivery.ok) return value
  if (delivery.reason === 'not_https') {
    throw invalid(outbound.allowHttpLoopback
      ? 'backchannel_logout_uri must use https (or http on a loopback host)'
      : 'backchannel_logout_uri must use https (http on loopback only when the provider sets outbound.allowHttpLoopback, for development)')
  }
  throw invalid('backchannel_logout_uri must be a URL the provider delivers to (not a private or loopback address)')
}
