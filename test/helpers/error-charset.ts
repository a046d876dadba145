import type { LightMyRequestResponse } from 'fastify'
import { errorDescriptionCharset } from '../../lib/contracts/errors.js'

/**
 * RFC 7235 §4.1 with RFC 6750 §3's value rule: `Scheme` alone, or `Scheme name="value", ...`
 * where every value is a quoted-string holding only the `error_description` characters. A
 * description that smuggled in a `"` or `\` cannot match. One header may list several
 * challenges (RFC 7235 §4.1), e.g. Bearer and DPoP (RFC 9449 §7.1).
 */
const challengeParam = '[a-z_]+="[\\x20-\\x21\\x23-\\x5B\\x5D-\\x7E]*"'
const oneChallenge = `[A-Za-z][\\w-]*( ${challengeParam}(, ${challengeParam})*)?`
const challengePattern = new RegExp(`^${oneChallenge}(, ${oneChallenge})*$`)

/**
 * Every place an `error_description` can travel in a response (JSON body, the Location of an
 * error redirect, `WWW-Authenticate`), checked against RFC 6749 §5.2 / RFC 6750 §3. Returns the
 * problems found (empty when the response is clean) and how many descriptions were seen.
 */
export function errorCharsetProblems (res: LightMyRequestResponse): { problems: string[], seen: number } {
  const problems: string[] = []
  let seen = 0
  const check = (where: string, value: unknown): void => {
    if (value === undefined) return
    seen++
    if (typeof value !== 'string') problems.push(`${where}: error_description is not a string`)
    else if (!errorDescriptionCharset.test(value)) problems.push(`${where}: ${JSON.stringify(value)}`)
  }
  const type = String(res.headers['content-type'] ?? '')
  if (type.startsWith('application/json') && res.body !== '') {
    try {
      const json = JSON.parse(res.body) as unknown
      if (typeof json === 'object' && json !== null && 'error' in json) check('body', (json as { error_description?: unknown }).error_description)
    } catch {
      problems.push('body: not JSON although the content type says so')
    }
  }
  const location = res.headers.location
  if (typeof location === 'string') {
    try {
      const url = new URL(location, 'http://relative.invalid')
      for (const value of url.searchParams.getAll('error_description')) check('redirect', value)
    } catch {
      problems.push(`redirect: unparsable Location ${location.slice(0, 100)}`)
    }
  }
  const challenge = res.headers['www-authenticate']
  if (typeof challenge === 'string') {
    if (challenge.includes('error_description=')) seen++
    if (!challengePattern.test(challenge)) problems.push(`WWW-Authenticate: ${challenge.slice(0, 300)}`)
  }
  return { problems, seen }
}
