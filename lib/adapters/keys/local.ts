import { createPublicKey, sign as cryptoSign, constants, type KeyObject } from 'node:crypto'
import { calculateJwkThumbprint } from 'jose'
import type { PublicJwk, SigningAlgorithm, SigningKey } from '../../contracts/keys.js'
import { KeySourceError } from '../../contracts/errors.js'

/** A private key held in this process, with its published public JWK. */
export interface LocalKey {
  signingKey: SigningKey
  publicJwk: PublicJwk
}

/** The algorithm a key can sign with when none is given. */
export function defaultAlgorithm (key: KeyObject): SigningAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return 'RS256'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256'
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA'
  throw new KeySourceError(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (use RSA, EC P-256 or Ed25519)`)
}

/** Builds the public JWK of a key: `kid` is the RFC 7638 thumbprint unless one is given. */
export async function publicJwkOf (key: KeyObject, alg: SigningAlgorithm, kid?: string): Promise<PublicJwk> {
  const exported = (key.type === 'public' ? key : createPublicKey(key)).export({ format: 'jwk' })
  const base: Record<string, string> = {}
  for (const member of ['kty', 'n', 'e', 'crv', 'x', 'y'] as const) {
    const value = exported[member]
    if (typeof value === 'string') base[member] = value
  }
  checkAlgorithmFits(key, alg)
  const thumbprint = kid ?? await calculateJwkThumbprint(base as { kty: string })
  return { ...base, kty: base.kty as string, kid: thumbprint, alg, use: 'sig' }
}

function checkAlgorithmFits (key: KeyObject, alg: SigningAlgorithm): void {
  const type = key.asymmetricKeyType
  const fits = alg === 'ES256'
    ? type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
    : alg === 'EdDSA' ? type === 'ed25519' : type === 'rsa'
  if (!fits) throw new KeySourceError(`a ${type ?? 'unknown'} key cannot sign ${alg}`)
  if (type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw new KeySourceError('RSA keys must be at least 2048 bits (RFC 7518 §3.3)')
  }
}

/**
 * Signs in the libuv thread pool (the callback form of `crypto.sign`), so RSA signatures do not
 * block the event loop and several run at once on a multi-core machine. EdDSA (RFC 8037 §3.1)
 * hashes internally: `crypto.sign` takes no digest for it.
 */
export function localSigner (privateKey: KeyObject, alg: SigningAlgorithm, kid: string): SigningKey {
  const keyInput = alg === 'PS256'
    ? { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
    : alg === 'ES256'
      ? { key: privateKey, dsaEncoding: 'ieee-p1363' as const }
      : privateKey
  return {
    kid,
    alg,
    sign (data: Uint8Array): Promise<Uint8Array> {
      return new Promise((resolve, reject) => {
        cryptoSign(alg === 'EdDSA' ? null : 'sha256', data, keyInput, (error, signature) => {
          if (error !== null) reject(error)
          else resolve(signature)
        })
      })
    },
  }
}

export async function localKey (privateKey: KeyObject, alg?: SigningAlgorithm, kid?: string): Promise<LocalKey> {
  const algorithm = alg ?? defaultAlgorithm(privateKey)
  const publicJwk = await publicJwkOf(privateKey, algorithm, kid)
  return { signingKey: localSigner(privateKey, algorithm, publicJwk.kid), publicJwk }
}
