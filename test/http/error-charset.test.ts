import t from 'tap'
import fc from 'fast-check'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { OAuthError, errorDescriptionCharset, toErrorDescription, wwwAuthenticate, type OAuthErrorCode } from '../../lib/contracts/errors.js'
import { responseUrl } from '../../lib/interactions/respond.js'
import { s256Challenge } from '../../lib/tokens/pkce.js'
import { errorCharsetProblems } from '../helpers/error-charset.js'
import { CONFIDENTIAL, REDIRECT_URI, SERVICE, basic, exchangeCode, issueCode, postForm, tokenApp } from '../helpers/codes.js'

/**
 * RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3: every `error_description` the provider sends, in a
 * JSON body, an error redirect or a `WWW-Authenticate` attribute, is %x20-21 / %x23-5B / %x5D-7E.
 */

/** Everything a description must not carry: quote, backslash, controls, non-ASCII, astral, RTL override. */
const NASTY = '"q"\\b\n\t\r\u0000é\u202e𝕏—“x”'

t.test('toErrorDescription: any input becomes a valid, stable, bounded description', async (t) => {
  fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 400 }), fc.string({ unit: 'grapheme', maxLength: 100 })), (input) => {
    const output = toErrorDescription(input)
    return errorDescriptionCharset.test(output) && output.length <= 300 && toErrorDescription(output) === output
  }), { numRuns: 2000 })
  t.equal(toErrorDescription('scope "café" is not allowed'), "scope 'cafe' is not allowed", 'double quotes become single quotes, accents are dropped')
  t.equal(toErrorDescription('C:\\path'), 'C:/path', 'a backslash becomes a slash')
  t.equal(toErrorDescription('a\r\nSet-Cookie: x=1'), 'a  Set-Cookie: x=1', 'line breaks become spaces: no header injection')
  t.equal(toErrorDescription('it\u2019s \u201cquoted\u201d \u2014 ok\u2026'), "it's 'quoted' - ok...", 'typographic punctuation gets its ASCII look-alike')
  t.equal(toErrorDescription('a\u0000b\u007fc'), 'abc', 'other controls are removed')
  t.equal(toErrorDescription('𝕏'), 'X', 'compatibility characters are decomposed')
  t.equal(toErrorDescription('\u{1F600}\u202e'), '??', 'anything else outside the set is a question mark')
  t.equal(toErrorDescription('x'.repeat(1000)).length, 300, 'long reflected input is cut')
  t.match(toErrorDescription('x'.repeat(1000)), /\.\.\.$/)
  t.equal(toErrorDescription('the plain text stays as it is: 100% [ok] {x} ~'), 'the plain text stays as it is: 100% [ok] {x} ~')
})

t.test('OAuthError cleans its description once: body, message, redirect and challenge agree', async (t) => {
  const error = new OAuthError('invalid_request', `parameter "${NASTY}" is bad`, {
    allowRedirect: true,
    challenge: { scheme: 'Bearer', realm: 'https://id.example.com', params: { scope: 'openid "x"' } },
    headers: { 'retry-after': '5' },
  })
  t.ok(errorDescriptionCharset.test(error.error_description), error.error_description)
  t.same(error.toJSON(), { error: 'invalid_request', error_description: error.error_description })
  t.equal(error.message, `parameter "${NASTY}" is bad`, 'message keeps the text as written (logs, pages), never sent as error_description')
  t.equal(error.headers['retry-after'], '5', 'other headers are kept')
  t.equal(error.headers['www-authenticate'],
    `Bearer realm="https://id.example.com", error="invalid_request", error_description="${error.error_description}", scope="openid 'x'"`)
  const url = new URL(responseUrl(REDIRECT_URI, { error: error.error, error_description: error.error_description }))
  t.equal(url.searchParams.get('error_description'), error.error_description)

  t.equal(wwwAuthenticate({ scheme: 'Bearer' }), 'Bearer', 'no params: the bare scheme')
  t.equal(new OAuthError('invalid_token', 'x', { challenge: { scheme: 'Bearer', describe: false } }).headers['www-authenticate'], 'Bearer',
    'RFC 6750 §3.1: no error attributes when no credentials were sent')
  t.equal(new OAuthError('invalid_token', '', { challenge: { scheme: 'Bearer' } }).headers['www-authenticate'], 'Bearer error="invalid_token"',
    'an empty description is left out')
})

/** Names of the helpers through which lib/ builds an OAuthError from a description. */
const throwHelpers = /^(OAuthError|invalid\w*|redirectError|pageError|forbidden|fail|bearerError|clientError|invalidToken|invalidMetadata|invalidRedirect)$/

function libFiles (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return libFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

/**
 * Every description argument written in lib/ (a string or a template whose holes get hostile
 * input), found with the TypeScript parser: the walk picks up new throw sites by itself.
 */
function throwSiteDescriptions (): Array<{ site: string, text: string, literal: string }> {
  const found: Array<{ site: string, text: string, literal: string }> = []
  for (const file of libFiles('lib')) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
    const visit = (node: ts.Node): void => {
      if ((ts.isCallExpression(node) || ts.isNewExpression(node)) && ts.isIdentifier(node.expression) && throwHelpers.test(node.expression.text)) {
        for (const argument of node.arguments ?? []) {
          let text: string | undefined
          if (ts.isStringLiteral(argument) || ts.isNoSubstitutionTemplateLiteral(argument)) text = argument.text
          if (ts.isTemplateExpression(argument)) {
            text = argument.head.text + argument.templateSpans.map((span) => NASTY + span.literal.text).join('')
          }
          // The error code argument is a literal too: only descriptions (with a space) count.
          if (text !== undefined && text.includes(' ')) {
            const line = source.getLineAndCharacterOfPosition(argument.getStart()).line + 1
            found.push({ site: `${file}:${line}`, text, literal: argument.getText() })
          }
        }
      }
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  return found
}

t.test('every throw site in lib/, with hostile input in its holes, serializes within the charset', async (t) => {
  const sites = throwSiteDescriptions()
  t.ok(sites.length >= 60, `${sites.length} descriptions found in lib/`)
  const quoting = sites.filter((site) => site.literal.slice(1, -1).includes('"'))
  if (quoting.length > 0) t.comment(`still quoting with " (the serializer turns it into '): ${quoting.map((site) => site.site).join(', ')}`)
  for (const { site, text } of sites) {
    const error = new OAuthError('invalid_request' as OAuthErrorCode, text, { challenge: { scheme: 'Bearer', realm: 'http://localhost:3000' } })
    const redirect = new URL(responseUrl(REDIRECT_URI, { error: error.error, error_description: error.error_description }))
    const fromRedirect = redirect.searchParams.get('error_description') ?? ''
    const challenge = error.headers['www-authenticate'] ?? ''
    if (!errorDescriptionCharset.test(error.toJSON().error_description) || !errorDescriptionCharset.test(fromRedirect) ||
      !/^Bearer realm="[^"\\]*", error="invalid_request", error_description="[\x20-\x21\x23-\x5B\x5D-\x7E]*"$/.test(challenge)) {
      t.fail(`${site}: ${JSON.stringify(text)}`)
    }
  }
  t.pass(`${sites.length} throw sites checked`)
})

/** The HTTP table: the throw sites reachable from outside, each with hostile input where it reflects. */
interface Case {
  name: string
  status: number
  error?: string
  send: (app: FastifyInstance) => Promise<LightMyRequestResponse>
}

const authorizeUrl = (extra: Record<string, string>): string => `/authorize?${new URLSearchParams({
  response_type: 'code',
  client_id: CONFIDENTIAL.client_id,
  redirect_uri: REDIRECT_URI,
  scope: 'openid',
  state: 's',
  code_challenge: s256Challenge('v'.repeat(43)),
  code_challenge_method: 'S256',
  ...extra,
}).toString()}`

t.test('HTTP: the throw sites answer within the charset in body, redirect and WWW-Authenticate', async (t) => {
  const { app, store } = await tokenApp(t, { registration: {} })
  const confidential = { authorization: basic(CONFIDENTIAL.client_id, CONFIDENTIAL.client_secret) }
  const tokens = (await exchangeCode(app, await issueCode(store, { scope: 'openid profile offline_access' }))).json() as { access_token: string, refresh_token: string }
  const noOpenid = (await exchangeCode(app, await issueCode(store, { scope: 'profile' }))).json() as { access_token: string }
  const json = (url: string, payload: string, method: 'POST' | 'PUT' = 'POST') => app.inject({ method, url, payload, headers: { 'content-type': 'application/json' } })

  const cases: Case[] = [
    { name: 'token: unsupported grant_type reflected', status: 400, error: 'unsupported_grant_type', send: () => postForm(app, '/token', { grant_type: NASTY }, confidential) },
    { name: 'token: client_credentials scope reflected', status: 400, error: 'invalid_scope', send: () => postForm(app, '/token', { grant_type: 'client_credentials', scope: `api.read ${NASTY}` }, { authorization: basic(SERVICE.client_id, SERVICE.client_secret) }) },
    { name: 'token: refresh scope reflected', status: 400, error: 'invalid_scope', send: () => postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, scope: NASTY }, confidential) },
    { name: 'token: missing parameter (schema)', status: 400, error: 'invalid_request', send: () => postForm(app, '/token', { grant_type: 'authorization_code' }, confidential) },
    { name: 'token: client not registered for the grant', status: 400, error: 'unauthorized_client', send: () => postForm(app, '/token', { grant_type: 'client_credentials' }, confidential) },
    { name: 'token: wrong secret (Basic challenge)', status: 401, error: 'invalid_client', send: () => postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: basic(SERVICE.client_id, 'wrong-secret-0123456789') }) },
    { name: 'token: two client authentications', status: 400, error: 'invalid_request', send: () => postForm(app, '/token', { grant_type: 'client_credentials', client_id: SERVICE.client_id, client_secret: SERVICE.client_secret }, { authorization: basic(SERVICE.client_id, SERVICE.client_secret) }) },
    { name: 'token: bad code', status: 400, error: 'invalid_grant', send: () => postForm(app, '/token', { grant_type: 'authorization_code', code: NASTY, redirect_uri: REDIRECT_URI, code_verifier: 'v'.repeat(43) }, confidential) },
    { name: 'token: not a form', status: 415, error: 'invalid_request', send: () => json('/token', '{}') },
    { name: 'token: body too large', status: 413, error: 'invalid_request', send: () => postForm(app, '/token', { grant_type: 'x'.repeat(70_000) }) },
    { name: 'authorize: prompt reflected in the redirect', status: 302, error: 'invalid_request', send: () => app.inject(authorizeUrl({ prompt: NASTY })) },
    { name: 'authorize: repeated parameter in the redirect', status: 302, error: 'invalid_request', send: () => app.inject(`${authorizeUrl({})}&state=${encodeURIComponent(NASTY)}`) },
    { name: 'authorize: request object refused in the redirect', status: 302, error: 'invalid_request_object', send: () => app.inject(authorizeUrl({ request: 'x' })) },
    { name: 'userinfo: token in the query (challenge)', status: 400, error: 'invalid_request', send: () => app.inject('/userinfo?access_token=x') },
    { name: 'userinfo: invalid token (challenge)', status: 401, error: 'invalid_token', send: () => app.inject({ url: '/userinfo', headers: { authorization: 'Bearer x.y.z' } }) },
    { name: 'userinfo: insufficient scope (challenge with scope)', status: 403, error: 'insufficient_scope', send: () => app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${noOpenid.access_token}` } }) },
    { name: 'userinfo: malformed header (challenge)', status: 400, error: 'invalid_request', send: () => app.inject({ url: '/userinfo', headers: { authorization: 'Bearer !!!' } }) },
    { name: 'register: grant type reflected', status: 400, error: 'invalid_client_metadata', send: () => json('/register', JSON.stringify({ redirect_uris: [REDIRECT_URI], grant_types: [NASTY] })) },
    { name: 'register: redirect URI reflected', status: 400, error: 'invalid_redirect_uri', send: () => json('/register', JSON.stringify({ redirect_uris: [`https://${NASTY.replace(/\s/g, '')}`] })) },
    { name: 'register: not JSON', status: 415, error: 'invalid_client_metadata', send: () => postForm(app, '/register', { x: '1' }) },
    { name: 'register: malformed JSON', status: 400, error: 'invalid_client_metadata', send: () => json('/register', '{"a":') },
    { name: 'register management: wrong token (challenge)', status: 401, error: 'invalid_token', send: () => app.inject({ url: '/register/x', headers: { authorization: 'Bearer wrong' } }) },
    { name: 'register management: malformed header (challenge)', status: 400, error: 'invalid_request', send: () => app.inject({ url: '/register/x', headers: { authorization: 'Bearer !!!' } }) },
    { name: 'register management: no credentials (bare challenge)', status: 401, error: 'invalid_token', send: () => app.inject({ url: '/register/x' }) },
    { name: 'introspect: no client authentication', status: 401, error: 'invalid_client', send: () => postForm(app, '/introspect', { token: 'x' }) },
    { name: 'revoke: missing token (schema)', status: 400, error: 'invalid_request', send: () => postForm(app, '/revoke', {}, confidential) },
  ]
  for (const testCase of cases) {
    const res = await testCase.send(app)
    t.equal(res.statusCode, testCase.status, `${testCase.name}: status`)
    const location = typeof res.headers.location === 'string' ? new URL(res.headers.location) : undefined
    const error = location?.searchParams.get('error') ?? (res.body === '' ? undefined : (JSON.parse(res.body) as { error?: string }).error)
    t.equal(error, testCase.error, `${testCase.name}: error`)
    const { problems, seen } = errorCharsetProblems(res)
    t.same(problems, [], `${testCase.name}: charset`)
    t.ok(seen >= 1, `${testCase.name}: a description was checked`)
  }
})
