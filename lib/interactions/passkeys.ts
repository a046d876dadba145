import type { FastifyReply, FastifyRequest } from 'fastify'
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server'
import type { ProviderContext } from '../contracts/context.js'
import { defaultPasskeyAcr, type PasskeyLogin, type PasskeyOptions, type PasskeyStore, type PasskeySummary, type StoredPasskey } from '../contracts/passkeys.js'
import { OAuthError } from '../contracts/errors.js'
import type { ProviderCookies } from '../http/cookies.js'
import type { FailureCounter } from '../http/failure-counters.js'
import { digest, nowSeconds, sha256 } from '../tokens/crypto.js'

/** Why a ceremony failed: each has its own message on our pages (en/de/fr). */
export type PasskeyFailureReason =
  /** No challenge from this browser, or it expired: the ceremony must start again. */
  | 'expired'
  /** The challenge was used already (a replayed response). */
  | 'replayed'
  /** No passkey with that credential id is registered (removed, or made for another site). */
  | 'unknown_credential'
  /** The signature, origin, RP ID, challenge, flags or counter did not verify. */
  | 'invalid'
  /** Too many failed passkey sign-ins from this IP: the login limits apply. */
  | 'locked'
  /** The response was not a WebAuthn response at all. */
  | 'malformed'

/** A ceremony that did not verify: 400 `invalid_request` with a `reason` the pages translate. */
export class PasskeyCeremonyError extends OAuthError {
  constructor (readonly reason: PasskeyFailureReason, description: string, options: { retryAfter?: number, cause?: unknown } = {}) {
    super('invalid_request', description, {
      ...(options.retryAfter === undefined ? {} : { statusCode: 429, headers: { 'retry-after': String(options.retryAfter) } }),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    })
  }
}

interface Challenge {
  /** The challenge, base64url. */
  c: string
  /** `r`: registration for account `a`; `s`: sign-in. */
  k: 'r' | 's'
  a?: string
  /** Epoch seconds after which the ceremony is over. */
  e: number
}

const credentialIdPattern = /^[A-Za-z0-9_-]{16,1400}$/

/**
 * The WebAuthn ceremonies (WebAuthn Level 3 §7.1 registration, §7.2 authentication) on
 * @simplewebauthn/server: what `app.oidc.passkeys` calls and what our own pages call, so a
 * host's page and ours follow the same rules:
 * - the challenge lives in a signed, HttpOnly cookie of the browser that asked for the options
 *   (bound to it) for `challengeTtl` seconds, and is consumed in the store (`markUsed`) before
 *   the response is verified: one use, whichever instance sees it;
 * - user verification is required, the origin is the issuer's, the RP ID ours;
 * - the signature counter must grow (when the authenticator counts) and is written with a
 *   compare-and-set, the backup-eligibility flag must not change, failures count against the
 *   IP on the login limiter.
 */
export class PasskeyCeremonies {
  readonly rpId: string
  readonly rpName: string
  readonly origin: string
  readonly store: PasskeyStore
  readonly offerEnrolment: boolean
  readonly #challengeTtl: number
  readonly #acr: { deviceBound: string, synced: string }

  constructor (
    private readonly ctx: ProviderContext,
    private readonly cookies: ProviderCookies,
    private readonly failures: FailureCounter,
    options: PasskeyOptions
  ) {
    const issuer = new URL(ctx.issuer)
    this.origin = issuer.origin
    this.rpId = options.rpId ?? issuer.hostname
    this.rpName = options.rpName ?? ctx.options.pages?.brand?.name ?? issuer.hostname
    this.store = options.store
    this.offerEnrolment = options.offerEnrolment ?? true
    this.#challengeTtl = options.challengeTtl ?? 300
    this.#acr = { ...defaultPasskeyAcr, ...options.acr }
  }

  /** WebAuthn §5.4.3 `user.id`: opaque, stable, at most 64 bytes, and no personal data. */
  static userHandle (accountId: string): string {
    return digest('sha256', `passkey-user:${accountId}`, 'base64url')
  }

  /**
   * Options for `navigator.credentials.create()` (through @simplewebauthn/browser's
   * `startRegistration`) for a user the caller has authenticated: resident key preferred, user
   * verification required, attestation `none`, the user's passkeys excluded.
   */
  async registrationOptions (
    reply: FastifyReply,
    user: { accountId: string, userName: string, displayName?: string }
  ): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.store.listPasskeys(user.accountId)
    const options = await generateRegistrationOptions({
      rpName: this.rpName,
      rpID: this.rpId,
      userName: user.userName.slice(0, 64),
      userDisplayName: (user.displayName ?? user.userName).slice(0, 64),
      userID: Buffer.from(PasskeyCeremonies.userHandle(user.accountId), 'base64url'),
      attestationType: 'none',
      excludeCredentials: existing.map((passkey) => ({ id: passkey.credentialId, ...transportsOf(passkey) })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
      timeout: this.#challengeTtl * 1000,
    })
    this.#setChallenge(reply, { c: options.challenge, k: 'r', a: user.accountId, e: nowSeconds() + this.#challengeTtl })
    return options
  }

  /** Verifies a registration response from the browser that asked for the options, and stores the passkey. */
  async verifyRegistration (
    request: FastifyRequest,
    input: { accountId: string, response: unknown, name?: string }
  ): Promise<PasskeySummary> {
    const challenge = await this.#takeChallenge(request, 'r')
    if (challenge.a !== input.accountId) throw new PasskeyCeremonyError('invalid', 'the passkey options were made for another user')
    const response = registrationResponse(input.response)
    let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>
    try {
      verified = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge.c,
        expectedOrigin: this.origin,
        expectedRPID: this.rpId,
        requireUserVerification: true,
      })
    } catch (error) {
      throw new PasskeyCeremonyError('invalid', 'the new passkey could not be verified', { cause: error })
    }
    if (!verified.verified) throw new PasskeyCeremonyError('invalid', 'the new passkey could not be verified')
    const info = verified.registrationInfo
    const now = nowSeconds()
    const passkey: StoredPasskey = {
      credentialId: info.credential.id,
      accountId: input.accountId,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      ...(info.credential.transports !== undefined && info.credential.transports.length > 0 ? { transports: [...info.credential.transports] } : {}),
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      name: cleanName(input.name) ?? defaultName(now),
      createdAt: now,
    }
    if (!await this.store.createPasskey(passkey)) throw new PasskeyCeremonyError('invalid', 'this passkey is registered already')
    this.ctx.audit('passkey.registered', { accountId: input.accountId, deviceType: passkey.deviceType })
    return summary(passkey)
  }

  /**
   * Options for `navigator.credentials.get()`: without `accountId`, any discoverable passkey
   * of this site (usernameless, and conditional mediation in the username field); with it,
   * that user's passkeys.
   */
  async authenticationOptions (reply: FastifyReply, input: { accountId?: string } = {}): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const allow = input.accountId === undefined ? [] : await this.store.listPasskeys(input.accountId)
    const options = await generateAuthenticationOptions({
      rpID: this.rpId,
      userVerification: 'required',
      timeout: this.#challengeTtl * 1000,
      ...(allow.length === 0 ? {} : { allowCredentials: allow.map((passkey) => ({ id: passkey.credentialId, ...transportsOf(passkey) })) }),
    })
    this.#setChallenge(reply, { c: options.challenge, k: 's', e: nowSeconds() + this.#challengeTtl })
    return options
  }

  /**
   * Verifies a sign-in response from the browser that asked for the options. On success the
   * counter and last use are recorded and the result is what `finishInteraction` takes as
   * `{ login }`; every failure counts against the IP on the login limiter.
   */
  async verifyAuthentication (request: FastifyRequest, input: { response: unknown }): Promise<PasskeyLogin> {
    const locked = await this.failures.check(undefined, request.ip)
    if (locked.lockedFor > 0) throw new PasskeyCeremonyError('locked', 'too many failed sign-in attempts; try again later', { retryAfter: locked.lockedFor })
    try {
      return await this.#verifyAuthentication(request, input.response)
    } catch (error) {
      if (error instanceof PasskeyCeremonyError && error.reason !== 'expired') {
        await this.failures.recordFailure(undefined, request.ip)
        this.ctx.audit('passkey.failure', { reason: error.reason, ip: request.ip })
      }
      throw error
    }
  }

  async #verifyAuthentication (request: FastifyRequest, raw: unknown): Promise<PasskeyLogin> {
    const challenge = await this.#takeChallenge(request, 's')
    const response = authenticationResponse(raw)
    const passkey = await this.store.findPasskey(response.id)
    if (passkey === undefined) throw new PasskeyCeremonyError('unknown_credential', 'this passkey is not registered here')
    // WebAuthn §7.2 step 6: a returned user handle must be the credential's user's.
    const userHandle = response.response.userHandle
    if (userHandle !== undefined && userHandle !== PasskeyCeremonies.userHandle(passkey.accountId)) {
      throw new PasskeyCeremonyError('invalid', 'the passkey answered for another user')
    }
    let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>
    try {
      verified = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge.c,
        expectedOrigin: this.origin,
        expectedRPID: this.rpId,
        credential: {
          id: passkey.credentialId,
          publicKey: Buffer.from(passkey.publicKey, 'base64url'),
          counter: passkey.counter,
          ...transportsOf(passkey),
        },
        requireUserVerification: true,
      })
    } catch (error) {
      // A counter that did not grow (a cloned authenticator, WebAuthn §6.1.1) lands here too.
      throw new PasskeyCeremonyError('invalid', 'the passkey signature did not verify', { cause: error })
    }
    const info = verified.authenticationInfo
    if (!verified.verified) throw new PasskeyCeremonyError('invalid', 'the passkey signature did not verify')
    // Backup eligibility is fixed when the credential is created (WebAuthn §6.1.3).
    if (info.credentialDeviceType !== passkey.deviceType) throw new PasskeyCeremonyError('invalid', 'the passkey changed its backup eligibility')
    const recorded = await this.store.recordPasskeyUse(passkey.credentialId, {
      previousCounter: passkey.counter,
      counter: info.newCounter,
      backedUp: info.credentialBackedUp,
      usedAt: nowSeconds(),
    })
    if (!recorded) throw new PasskeyCeremonyError('invalid', 'the passkey was used at the same time elsewhere')
    const synced = passkey.deviceType === 'multiDevice'
    return {
      accountId: passkey.accountId,
      // RFC 8176 §2: `swk`/`hwk` (proof of a software- or hardware-secured key), `user` (user verification).
      amr: [synced ? 'swk' : 'hwk', 'user'],
      acr: synced ? this.#acr.synced : this.#acr.deviceBound,
      credentialId: passkey.credentialId,
    }
  }

  async list (accountId: string): Promise<PasskeySummary[]> {
    return (await this.store.listPasskeys(accountId)).map(summary)
  }

  async rename (accountId: string, credentialId: string, name: string): Promise<boolean> {
    const clean = cleanName(name)
    if (clean === undefined) throw new OAuthError('invalid_request', 'a passkey name must be 1 to 64 characters')
    return await this.store.renamePasskey(accountId, credentialId, clean)
  }

  async remove (accountId: string, credentialId: string): Promise<boolean> {
    const removed = await this.store.deletePasskey(accountId, credentialId)
    if (removed) this.ctx.audit('passkey.removed', { accountId })
    return removed
  }

  #setChallenge (reply: FastifyReply, challenge: Challenge): void {
    this.cookies.setPasskeyChallenge(reply, JSON.stringify(challenge), this.#challengeTtl)
  }

  /** The browser's pending challenge of this kind, consumed: a second response to it is refused. */
  async #takeChallenge (request: FastifyRequest, kind: Challenge['k']): Promise<Challenge> {
    const raw = this.cookies.passkeyChallenge(request)
    let challenge: Challenge | undefined
    try {
      challenge = raw === undefined ? undefined : JSON.parse(raw) as Challenge
    } catch {}
    if (challenge === undefined || challenge.k !== kind || typeof challenge.c !== 'string' || !(challenge.e > nowSeconds())) {
      throw new PasskeyCeremonyError('expired', 'no passkey ceremony is pending in this browser, or it expired; start again')
    }
    if (!await this.ctx.store.markUsed(`passkey-challenge:${sha256(challenge.c)}`, challenge.e)) {
      throw new PasskeyCeremonyError('replayed', 'this passkey response was used already; start again')
    }
    return challenge
  }
}

/** The name a passkey gets when the user gave none. */
function defaultName (now: number): string {
  return `Passkey ${new Date(now * 1000).toISOString().slice(0, 10)}`
}

function cleanName (name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined
  // Control characters never reach a page or a log.
  const clean = name.replace(/[\p{Cc}\p{Cf}]/gu, '').trim()
  return clean === '' || clean.length > 64 ? undefined : clean
}

function transportsOf (passkey: StoredPasskey): { transports?: Array<'ble' | 'cable' | 'hybrid' | 'internal' | 'nfc' | 'smart-card' | 'usb'> } {
  return passkey.transports === undefined ? {} : { transports: passkey.transports as Array<'ble' | 'cable' | 'hybrid' | 'internal' | 'nfc' | 'smart-card' | 'usb'> }
}

function summary (passkey: StoredPasskey): PasskeySummary {
  return {
    credentialId: passkey.credentialId,
    name: passkey.name,
    createdAt: passkey.createdAt,
    ...(passkey.lastUsedAt === undefined ? {} : { lastUsedAt: passkey.lastUsedAt }),
    deviceType: passkey.deviceType,
    backedUp: passkey.backedUp,
    ...(passkey.transports === undefined ? {} : { transports: [...passkey.transports] }),
  }
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function parseJson (value: unknown): unknown {
  if (typeof value !== 'string') return value
  if (value.length > 20_000) throw new PasskeyCeremonyError('malformed', 'the passkey response is too large')
  try {
    return JSON.parse(value)
  } catch {
    throw new PasskeyCeremonyError('malformed', 'the passkey response is not JSON')
  }
}

/** The shape checks @simplewebauthn/server leaves to its caller, so a malformed body is a 400, never a 500. */
function credentialShape (value: unknown, fields: readonly string[]): Record<string, unknown> & { id: string, response: Record<string, unknown> } {
  const parsed = parseJson(value)
  if (!isRecord(parsed) || typeof parsed.id !== 'string' || !credentialIdPattern.test(parsed.id) || parsed.rawId !== parsed.id ||
      parsed.type !== 'public-key' || !isRecord(parsed.response)) {
    throw new PasskeyCeremonyError('malformed', 'the passkey response is not a WebAuthn credential')
  }
  for (const field of fields) {
    const part = parsed.response[field]
    if (typeof part !== 'string' || !/^[A-Za-z0-9_-]*$/.test(part)) throw new PasskeyCeremonyError('malformed', `the passkey response lacks ${field}`)
  }
  if (!isRecord(parsed.clientExtensionResults)) parsed.clientExtensionResults = {}
  return parsed as Record<string, unknown> & { id: string, response: Record<string, unknown> }
}

function registrationResponse (value: unknown): RegistrationResponseJSON {
  return credentialShape(value, ['clientDataJSON', 'attestationObject']) as unknown as RegistrationResponseJSON
}

function authenticationResponse (value: unknown): AuthenticationResponseJSON {
  const parsed = credentialShape(value, ['clientDataJSON', 'authenticatorData', 'signature'])
  const userHandle = parsed.response.userHandle
  if (userHandle !== undefined && userHandle !== null && (typeof userHandle !== 'string' || !/^[A-Za-z0-9_-]*$/.test(userHandle))) {
    throw new PasskeyCeremonyError('malformed', 'the passkey response has a malformed user handle')
  }
  if (userHandle === null || userHandle === '') delete parsed.response.userHandle
  return parsed as unknown as AuthenticationResponseJSON
}
