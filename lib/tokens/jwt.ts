import { constants, createHash, createPublicKey, verify as cryptoVerify, type JsonWebKey, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto'
import type { JWTPayload } from 'jose'
import type { PublicJwk, SigningAlgorithm, SigningKey } from '../contracts/keys.js'
import { inSpan, tracingRegistered } from '../contracts/tracing.js'

/**
 * Builds a compact JWS (RFC 7515 §7.1). Written here rather than with jose's SignJWT because the
 * signature comes from a `SigningKey`, which may be a KMS that never hands out the private key.
 */
export async function signJwt (key: SigningKey, typ: string, payload: Record<string, unknown>): Promise<string> {
  // Tracing off (the usual case): no span attributes, closure and extra async step per token.
  if (!tracingRegistered()) return await sign(key, typ, payload)
  return await inSpan('oidc.jwt.sign', { 'oidc.jwt.alg': key.alg, 'oidc.jwt.typ': typ }, async () => await sign(key, typ, payload))
}

async function sign (key: SigningKey, typ: string, payload: Record<string, unknown>): Promise<string> {
  const input = `${encodedHeader(key, typ)}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
  // The input is base64url (ASCII): a latin1 write copies it byte for byte, no UTF-8 scan.
  const signature = await key.sign(Buffer.from(input, 'latin1'))
  // node:crypto hands back a Buffer (no copy needed); a host signer may return any byte array.
  return `${input}.${(Buffer.isBuffer(signature) ? signature : Buffer.from(signature)).toString('base64url')}`
}

/**
 * The encoded JOSE header of each key and `typ`, built once: it depends on nothing else, and
 * every token re-serialized it. Keyed weakly by the key object, so keys dropped by a rotation
 * (`reloadKeys`) take their headers with them; `alg` and `kid` are compared on every use, so a
 * host key object edited in place still gets the header it names.
 */
const headers = new WeakMap<SigningKey, Map<string, { alg: string, kid: string, encoded: string }>>()

function encodedHeader (key: SigningKey, typ: string): string {
  let byTyp = headers.get(key)
  if (byTyp === undefined) {
    byTyp = new Map()
    headers.set(key, byTyp)
  }
  const cached = byTyp.get(typ)
  if (cached !== undefined && cached.alg === key.alg && cached.kid === key.kid) return cached.encoded
  const encoded = Buffer.from(JSON.stringify({ alg: key.alg, typ, kid: key.kid })).toString('base64url')
  byTyp.set(typ, { alg: key.alg, kid: key.kid, encoded })
  return encoded
}

/** How each algorithm verifies with node:crypto (RFC 7518 §3.3, §3.5, §3.4; RFC 8037 §3.1). */
function verifyParams (alg: SigningAlgorithm, key: KeyObject): { digest: string | null, key: KeyObject | VerifyKeyObjectInput } {
  switch (alg) {
    case 'PS256': return { digest: 'sha256', key: { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } }
    case 'ES256': return { digest: 'sha256', key: { key, dsaEncoding: 'ieee-p1363' } }
    case 'EdDSA': return { digest: null, key }
    default: return { digest: 'sha256', key }
  }
}

interface VerificationKey {
  kid: string
  alg: SigningAlgorithm
  digest: string | null
  key: KeyObject | VerifyKeyObjectInput
}

/** RFC 7515 §4.1.9 and jose's rule: `typ` compares case-insensitively, `application/` optional. */
function normalizeTyp (value: string): string {
  const lower = value.toLowerCase()
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower
}

function decodeJson (segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

const segmentPattern = /^[A-Za-z0-9_-]+$/

/**
 * Verifies JWTs this provider issued, against its own published keys only.
 *
 * Written on node:crypto rather than with jose's jwtVerify: this runs on every userinfo,
 * introspection and revocation request, and jose's path (WebCrypto in the thread pool, key
 * lookup, claim checks on a generic options object) cost about five times the CPU of one
 * synchronous `crypto.verify` with a KeyObject imported once (measured: 360 vs 65 µs on this VM).
 * The checks are jose's for what our tokens use: a compact JWS (RFC 7515 §7.1) with `alg` among
 * our keys' and the key named by `kid` (or, without `kid`, each key of that `alg`), no `crit`
 * (§4.1.11: none of ours), `typ`, then RFC 7519 §4.1: `iss` ours, `exp` and `nbf` as numbers and
 * in time (no clock tolerance), `iat` a number, `aud` when asked.
 */
export class JwtVerifier {
  readonly #keys: VerificationKey[]
  readonly #issuer: string
  /**
   * Tokens whose signature this verifier has checked, by the SHA-256 of the whole compact JWS:
   * an API introspects, and a client presents at userinfo, the same access token for its whole
   * life, and the signature is most of what checking it costs (RS256 45-65 µs, ES256 more;
   * `bench/README.md`). Only a signature is remembered, never a verdict: `typ`, `iss`, `exp`,
   * `nbf` and `aud` are checked on every call, and callers still ask the store whether the token
   * or its grant was revoked. Keyed by the hash, so the heap holds no bearer token; only
   * signatures we verified get in, so it fills only with tokens we issued; bounded, and held by
   * this verifier, which a key reload replaces (a key withdrawn from the set invalidates it).
   */
  readonly #verified = new Map<string, { typ: string, payload: JWTPayload }>()

  readonly #held: number

  /** `held`: how many verified signatures it remembers (about 200 bytes of payload each). */
  constructor (publicKeys: PublicJwk[], issuer: string, held = 4096) {
    this.#held = held
    this.#keys = publicKeys.map((jwk) => {
      const key = createPublicKey({ key: { ...jwk } as JsonWebKey, format: 'jwk' })
      return { kid: jwk.kid, alg: jwk.alg, ...verifyParams(jwk.alg, key) }
    })
    this.#issuer = issuer
  }

  /**
   * Returns the payload, or undefined for anything not issued by us, not of the expected `typ`,
   * expired or malformed: callers answer with their RFC error, never with the reason.
   */
  async verify (token: string, options: { typ: string, audience?: string, ignoreExpiry?: boolean }): Promise<JWTPayload | undefined> {
    const tokenHash = createHash('sha256').update(token).digest('base64url')
    const known = this.#verified.get(tokenHash)
    if (known !== undefined) {
      if ((known.payload.exp as number) > Math.floor(Date.now() / 1000)) {
        if (normalizeTyp(known.typ) !== normalizeTyp(options.typ)) return undefined
        return this.#checkClaims(known.payload, options)
      }
      // Expired: forgotten, and checked afresh below (an expired id_token_hint is still read).
      this.#verified.delete(tokenHash)
    }
    const parts = token.split('.')
    if (parts.length !== 3) return undefined
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string]
    if (!segmentPattern.test(headerPart) || !segmentPattern.test(payloadPart) || !segmentPattern.test(signaturePart)) return undefined
    const header = decodeJson(headerPart)
    if (header === undefined || typeof header.alg !== 'string' || header.crit !== undefined || header.b64 !== undefined) return undefined
    if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== normalizeTyp(options.typ)) return undefined
    const kid = header.kid
    if (kid !== undefined && typeof kid !== 'string') return undefined
    const candidates = this.#keys.filter((key) => key.alg === header.alg && (kid === undefined || key.kid === kid))
    if (candidates.length === 0) return undefined
    const input = Buffer.from(`${headerPart}.${payloadPart}`, 'ascii')
    const signature = Buffer.from(signaturePart, 'base64url')
    if (!candidates.some((key) => verifySignature(key.digest, input, key.key, signature))) return undefined
    const payload = decodeJson(payloadPart) as JWTPayload | undefined
    if (payload === undefined) return undefined
    const checked = this.#checkClaims(payload, options)
    if (checked !== undefined && typeof payload.exp === 'number' && payload.exp > Math.floor(Date.now() / 1000)) {
      this.#remember(tokenHash, header.typ as string, payload)
    }
    return checked
  }

  /** RFC 7519 §4.1 on a payload whose signature is ours: issuer, times (no tolerance), audience. */
  #checkClaims (payload: JWTPayload, options: { audience?: string, ignoreExpiry?: boolean }): JWTPayload | undefined {
    if (payload.iss !== this.#issuer) return undefined
    const { exp, nbf, iat } = payload
    if ((exp !== undefined && typeof exp !== 'number') || (nbf !== undefined && typeof nbf !== 'number') || (iat !== undefined && typeof iat !== 'number')) return undefined
    if (options.ignoreExpiry !== true) {
      const now = Math.floor(Date.now() / 1000)
      if (exp !== undefined && exp <= now) return undefined
      if (nbf !== undefined && nbf > now) return undefined
    }
    if (options.audience !== undefined) {
      const aud = payload.aud
      if (!(aud === options.audience || (Array.isArray(aud) && aud.includes(options.audience)))) return undefined
    }
    return payload
  }

  /**
   * Frozen, because every later caller gets this same object. When full, the oldest entry goes
   * first (insertion order); an expired one goes when it is next presented or pushed out.
   */
  #remember (tokenHash: string, typ: string, payload: JWTPayload): void {
    if (this.#verified.size >= this.#held) {
      const oldest = this.#verified.keys().next().value
      if (oldest !== undefined) this.#verified.delete(oldest)
    }
    this.#verified.set(tokenHash, { typ, payload: deepFreeze(payload) })
  }
}

function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const member of Object.values(value)) deepFreeze(member)
    Object.freeze(value)
  }
  return value
}

function verifySignature (digest: string | null, input: Buffer, key: KeyObject | VerifyKeyObjectInput, signature: Buffer): boolean {
  try {
    return cryptoVerify(digest, input, key, signature)
  } catch {
    return false
  }
}
