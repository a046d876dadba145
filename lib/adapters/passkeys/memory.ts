import type { PasskeyStore, PasskeyUse, StoredPasskey } from '../../contracts/passkeys.js'

/**
 * Passkeys in this process's memory: for development and tests, and for one instance whose
 * users may re-enrol after a restart. Records are copied in and out, so a caller cannot change
 * a stored credential by mutating what it was given.
 */
export class MemoryPasskeyStore implements PasskeyStore {
  readonly #byId = new Map<string, StoredPasskey>()

  async createPasskey (passkey: StoredPasskey): Promise<boolean> {
    if (this.#byId.has(passkey.credentialId)) return false
    this.#byId.set(passkey.credentialId, structuredClone(passkey))
    return true
  }

  async findPasskey (credentialId: string): Promise<StoredPasskey | undefined> {
    const found = this.#byId.get(credentialId)
    return found === undefined ? undefined : structuredClone(found)
  }

  async listPasskeys (accountId: string): Promise<StoredPasskey[]> {
    return [...this.#byId.values()]
      .filter((passkey) => passkey.accountId === accountId)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((passkey) => structuredClone(passkey))
  }

  async recordPasskeyUse (credentialId: string, use: PasskeyUse): Promise<boolean> {
    const found = this.#byId.get(credentialId)
    if (found === undefined || found.counter !== use.previousCounter) return false
    found.counter = use.counter
    found.backedUp = use.backedUp
    found.lastUsedAt = use.usedAt
    return true
  }

  async renamePasskey (accountId: string, credentialId: string, name: string): Promise<boolean> {
    const found = this.#byId.get(credentialId)
    if (found === undefined || found.accountId !== accountId) return false
    found.name = name
    return true
  }

  async deletePasskey (accountId: string, credentialId: string): Promise<boolean> {
    const found = this.#byId.get(credentialId)
    if (found === undefined || found.accountId !== accountId) return false
    return this.#byId.delete(credentialId)
  }
}
