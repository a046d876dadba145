import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/** scrypt cost: N=2^15, r=8, p=1 (OWASP's password-storage recommendation), 64 MiB max memory. */
const defaults = { N: 32768, r: 8, p: 1 }
const keyLength = 32

function scryptAsync (password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyLength, { ...options, maxmem: 128 * options.N! * options.r! * 2 }, (error, key) => {
      if (error !== null) reject(error)
      else resolve(key)
    })
  })
}

/**
 * Hashes a password with scrypt into a self-describing string
 * (`scrypt$N$r$p$salt$hash`, base64url), the format `staticUsers` accepts as `passwordHash`.
 *
 * @example
 * const passwordHash = await hashPassword('correct horse battery staple')
 */
export async function hashPassword (password: string, cost: { N?: number, r?: number, p?: number } = {}): Promise<string> {
  const params = { ...defaults, ...cost }
  const salt = randomBytes(16)
  const hash = await scryptAsync(password, salt, params)
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), hash.toString('base64url')].join('$')
}

/** Checks a password against a `hashPassword` string in constant time. */
export async function verifyPassword (encoded: string, password: string): Promise<boolean> {
  const parts = encoded.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number]
  const salt = Buffer.from(parts[4]!, 'base64url')
  const expected = Buffer.from(parts[5]!, 'base64url')
  const actual = await scryptAsync(password, salt, { N, r, p })
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}
