/**
 * Asymmetric JWS algorithms accepted for client assertions (RFC 7523) and DPoP proofs
 * (RFC 9449 §4.3: "not none or an identifier for a symmetric algorithm"). `Ed25519` is the
 * fully-specified name of EdDSA with Ed25519 (RFC 9864), which openid-client sends.
 * HS* (shared secrets) and `none` are never accepted.
 */
export const assertionAlgorithms: readonly string[] = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
]
