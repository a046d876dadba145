import t from 'tap'
import { responseUrl } from '../../lib/interactions/respond.js'
import { safeEqualDigests, sha256 } from '../../lib/tokens/crypto.js'

/** What responseUrl replaced (and must keep matching): the WHATWG URL and its query list. */
function viaUrl (redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri)
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.append(name, value)
  }
  return url.href
}

const redirectUris = [
  'https://rp.example/cb',
  'https://RP.Example:443/c%62/../x?existing=1%202&plus=+~!*&bare',
  'https://rp.example/cb?',
  'https://rp.example/cb#',
  'https://rp.example/cb?#',
  'http://127.0.0.1:8080/cb?a=%zz',
  'com.example.app:/oauth2redirect',
  'com.example.app:/cb?q=%C3%A9 e',
  'myapp://host/p?k=v',
  'urn:example:cb?x=1',
]

// Characters URLSearchParams and encodeURIComponent treat differently, and some they agree on.
const alphabet = ['a', 'Z', '0', ' ', '+', '%', '&', '=', '#', '?', '!', "'", '(', ')', '~', '*', '-', '.', '_', '/', ':',
  'é', '€', '😀', '\ud800', '\udc00', '\u0000', '\n', '"', '<', '[', '\\', '^', '`', '{', '|', '}']

t.test('the authorization response URL is byte for byte what URL + searchParams.append give (RFC 6749 §4.1.2)', async (t) => {
  let seed = 42
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
  }
  let mismatches = 0
  for (let i = 0; i < 20000; i++) {
    let value = ''
    for (let j = random(8); j > 0; j--) value += alphabet[random(alphabet.length)]
    const redirectUri = redirectUris[i % redirectUris.length]!
    const params = { code: 'c0de_-', state: i % 3 === 0 ? undefined : value, iss: `https://op.example/t${value}` }
    if (responseUrl(redirectUri, params) !== viaUrl(redirectUri, params)) mismatches++
  }
  t.equal(mismatches, 0)
  for (const redirectUri of redirectUris) {
    t.equal(responseUrl(redirectUri, { error: undefined }), viaUrl(redirectUri, { error: undefined }), `nothing appended: ${redirectUri}`)
  }
  t.equal(responseUrl('https://rp.example/cb?x=1', { code: 'a b', state: "it's (ok)~!" }), 'https://rp.example/cb?x=1&code=a+b&state=it%27s+%28ok%29%7E%21')
})

t.test('digests compare equal only when identical, whatever their lengths', async (t) => {
  const a = sha256('secret')
  t.ok(safeEqualDigests(a, sha256('secret')))
  t.notOk(safeEqualDigests(a, sha256('secret2')))
  t.notOk(safeEqualDigests(a, a.slice(1)))
  t.notOk(safeEqualDigests(`${a.slice(1)}é`, a), 'same length in characters, not in bytes')
  t.notOk(safeEqualDigests('', a))
})
