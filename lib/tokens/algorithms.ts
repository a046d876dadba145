import { OAuthError } from '../contracts/errors.js'
import { assertionAlgorithms } from './assertion-algorithms.js'

/**
 * The one list of JOSE algorithms the provider can honour. Client registration checks a
 * client's wishes against it (RFC 7591 §2, OpenID Connect Dynamic Client Registration §2) and
 * discovery publishes it (OpenID Connect Discovery §3, RFC 8414 §2), so the two cannot disagree.
 */

/** What the rules need of the KeyRing: the algorithms it holds a current signing key for. */
export interface SigningAlgorithmSource {
  algorithms (): readonly string[]
}

/** Per use, the algorithms supported; an empty list means the feature is not supported at all. */
export interface SupportedAlgorithms {
  /** ID token signatures (JWS `alg`): the algorithms we hold signing keys for. */
  idTokenSigning: readonly string[]
  /** Signed UserInfo responses: none (UserInfo answers plain JSON, OIDC Core §5.3.2). */
  userinfoSigning: readonly string[]
  /** JWT client authentication (`private_key_jwt`, RFC 7523): asymmetric algorithms only. */
  tokenEndpointAuthSigning: readonly string[]
  /** Request objects (OIDC Core §6.1, RFC 9101): asymmetric algorithms (`none` when the host allows unsigned ones); empty when off. */
  requestObjectSigning: readonly string[]
  /** JWE `alg` values for any encrypted response or request object: none. */
  encryptionAlg: readonly string[]
  /** JWE `enc` values: none. */
  encryptionEnc: readonly string[]
}

/** The `requestObjects` option's part the algorithm lists depend on. */
export interface RequestObjectSupport {
  enabled: boolean
  allowUnsigned: boolean
}

const noRequestObjects: RequestObjectSupport = { enabled: false, allowUnsigned: false }

/**
 * The algorithms this provider supports, derived from the keys it holds and, for request
 * objects, the `requestObjects` option.
 *
 * @example
 * supportedAlgorithms(ctx.keys).idTokenSigning // ['RS256']
 */
export function supportedAlgorithms (keys: SigningAlgorithmSource, requestObjects: RequestObjectSupport = noRequestObjects): SupportedAlgorithms {
  // RFC 7518 §3.6 / OIDC Core §10.1: `none` is never a signature we produce.
  const signing = [...new Set(keys.algorithms())].filter((alg) => alg !== 'none')
  return {
    idTokenSigning: signing,
    userinfoSigning: [],
    tokenEndpointAuthSigning: assertionAlgorithms,
    // Verified with the client's registered public keys; HS* would need the client secret in
    // clear, which is never kept (only its hash).
    requestObjectSigning: requestObjects.enabled ? [...assertionAlgorithms, ...(requestObjects.allowUnsigned ? ['none'] : [])] : [],
    encryptionAlg: [],
    encryptionEnc: [],
  }
}

/**
 * The discovery members for these algorithms. A `*_values_supported` member is published only
 * for a feature that is supported (an empty list would claim support for nothing).
 */
export function algorithmMetadata (supported: SupportedAlgorithms): Record<string, readonly string[]> {
  const metadata: Record<string, readonly string[]> = {
    id_token_signing_alg_values_supported: supported.idTokenSigning,
  }
  const optional: Array<[string, readonly string[]]> = [
    ['userinfo_signing_alg_values_supported', supported.userinfoSigning],
    ['token_endpoint_auth_signing_alg_values_supported', supported.tokenEndpointAuthSigning],
    ['request_object_signing_alg_values_supported', supported.requestObjectSigning],
  ]
  for (const [name, values] of optional) {
    if (values.length > 0) metadata[name] = values
  }
  return metadata
}

/** Which list a client metadata member is checked against, and why `none` is refused there. */
export interface AlgorithmMember {
  /** The client metadata member. */
  name: string
  /** The supported values for it. */
  supported: (algorithms: SupportedAlgorithms) => readonly string[]
  /** A signature is expected here, so `none` is refused even if a list held it. */
  signature: boolean
}

const signed = (name: string, supported: AlgorithmMember['supported']): AlgorithmMember => ({ name, supported, signature: true })

/**
 * Client metadata members that name an algorithm (OpenID Connect Dynamic Client Registration
 * §2, RFC 7591 §2, RFC 9101 §10.5, RFC 9701 §6, JARM §3), in the order they are checked.
 */
export const algorithmMembers: readonly AlgorithmMember[] = [
  signed('id_token_signed_response_alg', (a) => a.idTokenSigning),
  signed('userinfo_signed_response_alg', (a) => a.userinfoSigning),
  // RFC 7591 §2: "The value 'none' MUST NOT be used" for token_endpoint_auth_signing_alg.
  signed('token_endpoint_auth_signing_alg', (a) => a.tokenEndpointAuthSigning),
  // OIDC Registration §2 allows 'none' here: listed only when the host accepts unsigned objects.
  { name: 'request_object_signing_alg', supported: (a) => a.requestObjectSigning, signature: false },
  signed('introspection_signed_response_alg', () => []),
  signed('authorization_signed_response_alg', () => []),
]

/** `*_encrypted_response_alg`, `request_object_encryption_alg` and the like: JWE key management. */
export const encryptionAlgMember = /^(\w+_encrypted_response_alg|request_object_encryption_alg)$/
/** `*_encrypted_response_enc`, `request_object_encryption_enc`: JWE content encryption. */
export const encryptionEncMember = /^(\w+_encrypted_response_enc|request_object_encryption_enc)$/

/** The algorithm choices a client made that the provider honours (kept on the client record). */
export interface AlgorithmChoices {
  /** OIDC Registration §2; absent means the provider's default (its current signing key). */
  id_token_signed_response_alg?: string
}

/**
 * RFC 7591 §2 and §3.2.2, OpenID Connect Dynamic Client Registration §2: every member of the
 * client metadata that names an algorithm must name one this provider supports, as a string,
 * and never `none` where a signature is expected. Anything else is `invalid_client_metadata`
 * naming the member, rather than a client registered for tokens it will reject.
 *
 * @example
 * checkAlgorithmMembers({ id_token_signed_response_alg: 'RS256' }, supportedAlgorithms(ctx.keys))
 * // { id_token_signed_response_alg: 'RS256' }
 */
export function checkAlgorithmMembers (body: Record<string, unknown>, supported: SupportedAlgorithms): AlgorithmChoices {
  const choices: AlgorithmChoices = {}
  const check = (name: string, list: readonly string[], signature: boolean): string | undefined => {
    const value = body[name]
    if (value === undefined || value === null) return undefined
    if (typeof value !== 'string') throw new OAuthError('invalid_client_metadata', `${name} must be a string`)
    const supportedText = list.length === 0 ? 'this provider supports none' : `supported: ${list.join(' ')}`
    if (signature && value === 'none') {
      throw new OAuthError('invalid_client_metadata', `${name}: 'none' is not allowed, a signature is required (${supportedText})`)
    }
    if (!list.includes(value)) throw new OAuthError('invalid_client_metadata', `${name}: '${value.slice(0, 40)}' is not supported (${supportedText})`)
    return value
  }
  for (const member of algorithmMembers) {
    const value = check(member.name, member.supported(supported), member.signature)
    if (member.name === 'id_token_signed_response_alg' && value !== undefined) choices.id_token_signed_response_alg = value
  }
  for (const name of Object.keys(body).sort()) {
    if (encryptionAlgMember.test(name)) check(name, supported.encryptionAlg, false)
    else if (encryptionEncMember.test(name)) check(name, supported.encryptionEnc, false)
  }
  return choices
}
