/*
 * Passkeys (WebAuthn Level 3): the credentials a user registered, where they are kept, and what
 * the ceremonies give the host. The ceremonies themselves live in lib/interactions/passkeys.ts.
 */

/** A registered passkey, as stored: the public key only (the private key never leaves the authenticator). */
export interface StoredPasskey {
  /** The credential id (WebAuthn §6.1 `credentialId`), base64url: unique across all users. */
  credentialId: string
  /** The user (`sub`) it signs in. */
  accountId: string
  /** The credential public key, COSE-encoded (WebAuthn §6.5.1.1), base64url. */
  publicKey: string
  /** The signature counter last seen (WebAuthn §6.1.1); 0 for authenticators that do not count. */
  counter: number
  /** Transports the browser reported at registration (`usb`, `internal`, `hybrid`...), as hints. */
  transports?: string[]
  /** `multiDevice`: a synced passkey; `singleDevice`: bound to one authenticator (WebAuthn §6.1.3). */
  deviceType: 'singleDevice' | 'multiDevice'
  /** The backup state flag (BS) last seen. */
  backedUp: boolean
  /** The name the user gave it (or a default), shown when they manage their passkeys. */
  name: string
  /** Epoch seconds. */
  createdAt: number
  /** Epoch seconds of the last sign-in with it, if any. */
  lastUsedAt?: number
}

/** What a successful sign-in changes on a credential. */
export interface PasskeyUse {
  /** The counter the verification read from the stored record: the update applies only if it is still that. */
  previousCounter: number
  counter: number
  backedUp: boolean
  usedAt: number
}

/**
 * Where passkeys are kept: memory and Redis implementations ship with the package
 * (`MemoryPasskeyStore`, `RedisPasskeyStore`); a host may keep them in its own user database
 * by implementing these five methods. Each is one operation: `createPasskey` and `recordUse`
 * must be atomic (one statement or one transaction) across every instance.
 */
export interface PasskeyStore {
  /** Adds a credential; false (nothing written) when its credential id is already registered. */
  createPasskey (passkey: StoredPasskey): Promise<boolean>
  /** The credential with this id, whoever it belongs to. */
  findPasskey (credentialId: string): Promise<StoredPasskey | undefined>
  /** A user's credentials, oldest first. */
  listPasskeys (accountId: string): Promise<StoredPasskey[]>
  /**
   * Records a sign-in: counter, backup state and last use, only while the stored counter is
   * still `use.previousCounter` (compare-and-set), so two sign-ins racing with one counter
   * value cannot both pass. False when the credential is gone or the counter moved.
   */
  recordPasskeyUse (credentialId: string, use: PasskeyUse): Promise<boolean>
  /** Renames one of the user's credentials; false when the user has no such credential. */
  renamePasskey (accountId: string, credentialId: string, name: string): Promise<boolean>
  /** Removes one of the user's credentials; false when the user has no such credential. */
  deletePasskey (accountId: string, credentialId: string): Promise<boolean>
}

/** A passkey as the host API shows it: what a user may see about their own credential. */
export type PasskeySummary = Pick<StoredPasskey, 'credentialId' | 'name' | 'createdAt' | 'lastUsedAt' | 'deviceType' | 'backedUp' | 'transports'>

/** What a verified passkey sign-in yields: finish the interaction with `{ login: result }`. */
export interface PasskeyLogin {
  accountId: string
  /**
   * RFC 8176: `hwk` (a key bound to one device) or `swk` (a synced passkey), and `user` (user
   * verification was performed: WebAuthn's UV flag, required here).
   */
  amr: string[]
  /** From the `passkeys.acr` mapping (default: `phrh` for device-bound, `phr` for synced). */
  acr: string
  credentialId: string
}

/** The acr values a passkey sign-in reports, by kind of credential. */
export interface PasskeyAcr {
  /** A device-bound credential (`singleDevice`). Default `phrh` (phishing-resistant, hardware). */
  deviceBound?: string
  /** A synced passkey (`multiDevice`). Default `phr` (phishing-resistant). */
  synced?: string
}

/** The default `passkeys.acr` mapping: the OpenID EAP ACR Values 1.0 classes. */
export const defaultPasskeyAcr: Required<PasskeyAcr> = { deviceBound: 'phrh', synced: 'phr' }

/**
 * The `passkeys` option: sign-in with passkeys on the built-in login page and through
 * `app.oidc.passkeys`. Off unless given.
 *
 * @example
 * passkeys: { store: new MemoryPasskeyStore(), rpName: 'Acme ID' }
 */
export interface PasskeyOptions {
  /** Where credentials are kept. */
  store: PasskeyStore
  /**
   * The WebAuthn relying party id: the issuer's host by default; a registrable parent domain of
   * it (e.g. `example.com` for `id.example.com`) lets the passkeys work on sibling hosts too.
   */
  rpId?: string
  /** The name an authenticator shows when a passkey is created (default: the brand name, else the issuer's host). */
  rpName?: string
  /** Offer to add a passkey after a password sign-in on the built-in pages when the user has none (default true). */
  offerEnrolment?: boolean
  /** The `acr` a passkey sign-in reports. */
  acr?: PasskeyAcr
  /** How long a ceremony's challenge stays valid, seconds (default 300). */
  challengeTtl?: number
}
