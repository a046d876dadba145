import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { isoCBOR } from '@simplewebauthn/server/helpers'

/**
 * A software WebAuthn authenticator for tap tests (Chromium's virtual authenticator covers the
 * browser path): an ES256 key per credential, `none` attestation, the flags and counter under
 * the test's control, so replays, foreign challenges and counters that go backwards can be
 * produced on purpose. Responses are the JSON @simplewebauthn/browser would post.
 */
export class SoftAuthenticator {
  readonly credentialId = randomBytes(32).toString('base64url')
  readonly #key: KeyObject
  readonly #publicJwk: { x: string, y: string }
  counter = 0
  userHandle: string | undefined

  constructor (readonly origin: string, readonly rpId = new URL(origin).hostname, readonly options: { synced?: boolean } = {}) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    this.#key = privateKey
    const jwk = publicKey.export({ format: 'jwk' })
    this.#publicJwk = { x: jwk.x!, y: jwk.y! }
  }

  #flags (attested: boolean): number {
    // UP | UV, BE | BS for a synced passkey, AT when a credential is attested.
    return 0x01 | 0x04 | (this.options.synced === true ? 0x08 | 0x10 : 0) | (attested ? 0x40 : 0)
  }

  #authData (attested: boolean, rpId = this.rpId): Buffer {
    const counter = Buffer.alloc(4)
    counter.writeUInt32BE(this.counter)
    const parts = [createHash('sha256').update(rpId).digest(), Buffer.from([this.#flags(attested)]), counter]
    if (attested) {
      const id = Buffer.from(this.credentialId, 'base64url')
      const length = Buffer.alloc(2)
      length.writeUInt16BE(id.length)
      const cose = new Map<number, number | Uint8Array>([
        [1, 2], [3, -7], [-1, 1],
        [-2, Buffer.from(this.#publicJwk.x, 'base64url')],
        [-3, Buffer.from(this.#publicJwk.y, 'base64url')],
      ])
      parts.push(Buffer.alloc(16), length, id, Buffer.from(isoCBOR.encode(cose)))
    }
    return Buffer.concat(parts)
  }

  #clientData (type: 'webauthn.create' | 'webauthn.get', challenge: string, origin = this.origin): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }))
  }

  /** The result of `startRegistration` for these creation options. */
  register (options: { challenge: string, user: { id: string } }): Record<string, unknown> {
    this.userHandle = options.user.id
    const authData = this.#authData(true)
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]) as never)
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: 'public-key',
      response: {
        clientDataJSON: this.#clientData('webauthn.create', options.challenge).toString('base64url'),
        attestationObject: Buffer.from(attestationObject).toString('base64url'),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    }
  }

  /**
   * The result of `startAuthentication` for `challenge`; the counter grows by one first
   * (`counter` may be set lower beforehand to play a cloned authenticator).
   */
  authenticate (challenge: string, overrides: { origin?: string, rpId?: string, userHandle?: string } = {}): Record<string, unknown> {
    this.counter += 1
    const authData = this.#authData(false, overrides.rpId)
    const clientData = this.#clientData('webauthn.get', challenge, overrides.origin)
    const signature = sign('sha256', Buffer.concat([authData, createHash('sha256').update(clientData).digest()]), this.#key)
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: 'public-key',
      response: {
        clientDataJSON: clientData.toString('base64url'),
        authenticatorData: authData.toString('base64url'),
        signature: signature.toString('base64url'),
        ...(overrides.userHandle ?? this.userHandle) === undefined ? {} : { userHandle: overrides.userHandle ?? this.userHandle },
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    }
  }
}
