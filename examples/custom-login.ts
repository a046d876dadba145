/**
 * A host with its own login and consent pages on the interaction API:
 * `npm run example:custom-login`.
 *
 * - `/sign-in`: the host's own password form (its own look, not the provider's template),
 *   checked through `app.oidc.checkPassword` (the provider's brute-force limits), then, for
 *   alice, a TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s; secret JBSWY3DPEHPK3PXP,
 *   verified with otpauth). alice gets `amr: ["pwd","otp"]`, demo `amr: ["pwd"]`.
 * - Passkeys through `app.oidc.passkeys`: after a password sign-in, a user without a passkey is
 *   offered one (registration options + verification); the sign-in page has "Sign in with a
 *   passkey" (usernameless: authentication options + verification), which finishes the
 *   interaction with the passkey's `amr` (`["hwk","user"]` or `["swk","user"]`) and `acr`.
 *   The page script is the host's (`/assets/passkeys.js`), @simplewebauthn/browser the
 *   provider's (`/passkeys/webauthn.js`); the CSP allows scripts from this origin only. Open the
 *   pages at `http://localhost:3000`, not 127.0.0.1: WebAuthn refuses an IP address as RP ID.
 * - `/approve`: the host's consent page, a checkbox per scope, so a user can grant fewer.
 * - `/sign-out`: the host's logout confirmation, when a relying party's logout must be
 *   confirmed (RP-Initiated Logout 1.0 §2), finished with `{ logout: true | false }`.
 * - A custom scope `roles` (demo: ["user"], alice: ["admin","user"]), released at userinfo
 *   and in the ID token, and put in access tokens by a claims hook.
 * - Open dynamic registration, as in the main example.
 *
 * DEMO users with plain passwords: never do that in real code.
 *
 * Environment (as `npm start`): PORT, HOST, ISSUER, REDIS_URL, REDIS_CLUSTER_NODES,
 * SECRET_KEY, KEYS_DIR, LOG_LEVEL, TRUST_PROXY.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import formbody from '@fastify/formbody'
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import * as OTPAuth from 'otpauth'
import { oidcProvider, escapeHtml, fileKeys, staticUsers, MemoryStore, MemoryPasskeyStore, OAuthError, type Interaction, type LogoutInteraction, type OidcProviderOptions, type PasskeyStore, type Store } from '../lib/index.js'
import { createRedisStore } from './redis.js'
import { passkeyPageScript } from './custom-login-passkeys.js'
import type { ExampleEnv } from './server.js'

/** alice's TOTP secret (base32), as an authenticator app would have scanned it. */
export const aliceTotpSecret = 'JBSWY3DPEHPK3PXP'

const users = staticUsers([
  { username: 'demo', password: 'demo', sub: 'demo', claims: { name: 'Demo User', email: 'demo@example.com', email_verified: true, roles: ['user'] } },
  { username: 'alice', password: 'wonderland', sub: 'alice', claims: { name: 'Alice Liddell', email: 'alice@example.com', email_verified: true, roles: ['admin', 'user'] } },
])

/** Who has a second factor: account → TOTP verifier (RFC 6238 defaults: SHA-1, 6 digits, 30 s). */
const secondFactors = new Map<string, OTPAuth.TOTP>([
  ['alice', new OTPAuth.TOTP({ issuer: 'custom-login example', label: 'alice', algorithm: 'SHA1', digits: 6, period: 30, secret: OTPAuth.Secret.fromBase32(aliceTotpSecret) })],
])

/**
 * The scripts of a page with a passkey ceremony: @simplewebauthn/browser from the provider (it
 * serves it with the `passkeys` option on), then the host's own page script. Both from this
 * origin: no CDN, and no inline script.
 */
const passkeyScripts = '<script src="/passkeys/webauthn.js"></script><script src="/assets/passkeys.js"></script>'

/**
 * The host's own page shell: its own look, a strict CSP (one nonce'd style; scripts from this
 * origin only, never inline; `connect-src 'self'` for the passkey options the script fetches).
 */
function page (reply: FastifyReply, title: string, body: string, status = 200): FastifyReply {
  const nonce = randomBytes(16).toString('base64')
  reply.code(status).headers({
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'self'; connect-src 'self'; form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'`,
    'referrer-policy': 'same-origin',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  })
  return reply.send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} · Wonderland Corp</title>
<style nonce="${nonce}">
body{font-family:Georgia,serif;background:#fdf6e3;color:#3b2f2f;display:grid;place-items:center;min-height:100vh;margin:0}
.card{background:#fff;border:3px double #b58900;padding:2rem 2.5rem;max-width:26rem;width:100%}
h1{font-variant:small-caps;color:#b58900;margin-top:0}label{display:block;margin:.8rem 0 .3rem}
input[type=text],input[type=password]{width:100%;padding:.5rem;border:1px solid #b58900;box-sizing:border-box}
button{margin-top:1rem;padding:.6rem 1.2rem;background:#b58900;color:#fff;border:0;cursor:pointer}
button.deny{background:#93a1a1}.error{color:#dc322f}ul{list-style:none;padding:0}[hidden]{display:none}
.passkey{border-top:1px dotted #b58900;margin-top:1.5rem}
</style></head><body><div class="card"><h1 id="host-title">${escapeHtml(title)}</h1>${body}</div></body></html>`)
}

const hidden = (interaction: Interaction | LogoutInteraction): string =>
  `<input type="hidden" name="interaction_id" value="${escapeHtml(interaction.id)}"><input type="hidden" name="csrf_token" value="${escapeHtml(interaction.csrfToken)}">`

function passwordForm (reply: FastifyReply, interaction: Interaction, error = '', username = interaction.loginHint ?? '', status = 200): FastifyReply {
  const client = escapeHtml(interaction.client.clientName ?? interaction.client.clientId)
  // Step-up (OIDC Core §3.1.2.1): the provider sent the user back here because the application
  // asked for a passkey's class (docs/passkeys.md) and the session was a password one.
  const stepUp = interaction.acrValues.some((acr) => acr === 'phr' || acr === 'phrh')
    ? '<p id="step-up">This application asks you to sign in with a passkey.</p>'
    : ''
  return page(reply, 'Wonderland sign-in', `<p>Sign in to continue to <strong>${client}</strong>.</p>${stepUp}
${error === '' ? '' : `<p class="error" id="error">${escapeHtml(error)}</p>`}
<form method="post" action="/sign-in">${hidden(interaction)}
<label for="username">Who are you?</label><input type="text" id="username" name="username" value="${escapeHtml(username)}" autocomplete="username" required>
<label for="password">Secret word</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" id="sign-in">Enter</button></form>
<div class="passkey" id="passkey" data-mode="login" data-options="/sign-in/passkey-options" hidden>
<p class="error" id="passkey-error" hidden></p>
<form method="post" action="/sign-in/passkey" id="passkey-form">${hidden(interaction)}<input type="hidden" name="response" value="">
<button type="button" id="passkey-button">Sign in with a passkey</button></form></div>${passkeyScripts}`, status)
}

/**
 * The passkey offer after a password sign-in: "Add a passkey" runs the registration ceremony;
 * "Not now" (or a page without JavaScript) finishes the sign-in with the factors already shown.
 * The ticket proves those factors (`factors`), so this step cannot skip the TOTP step.
 */
function enrolForm (reply: FastifyReply, interaction: Interaction, ticket: string, factors: string, error = ''): FastifyReply {
  return page(reply, 'Add a passkey?', `<p>Next time, sign in with your fingerprint, face or device PIN instead of the secret word.</p>
${error === '' ? '' : `<p class="error" id="error">${escapeHtml(error)}</p>`}
<div id="passkey" data-mode="enrol" data-options="/sign-in/passkey-enrol-options" hidden><p class="error" id="passkey-error" hidden></p></div>
<form method="post" action="/sign-in/passkey-enrol" id="passkey-form">${hidden(interaction)}<input type="hidden" name="ticket" value="${escapeHtml(ticket)}">
<input type="hidden" name="factors" value="${escapeHtml(factors)}"><input type="hidden" name="response" value="">
<label for="passkey-name">Name it (optional)</label><input type="text" id="passkey-name" name="name" maxlength="64" autocomplete="off">
<button type="button" id="passkey-button">Add a passkey</button>
<button type="submit" class="deny" id="passkey-skip">Not now</button></form>${passkeyScripts}`, error === '' ? 200 : 400)
}

function totpForm (reply: FastifyReply, interaction: Interaction, ticket: string, error = ''): FastifyReply {
  return page(reply, 'Second factor', `<p>Enter the 6-digit code from your authenticator app.</p>
${error === '' ? '' : `<p class="error" id="error">${escapeHtml(error)}</p>`}
<form method="post" action="/sign-in/otp">${hidden(interaction)}<input type="hidden" name="ticket" value="${escapeHtml(ticket)}">
<label for="otp">Code</label><input type="text" id="otp" name="otp" inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code" required>
<button type="submit" id="verify">Verify</button></form>`, error === '' ? 200 : 401)
}

/**
 * One step's proof for the next (the password step's for the TOTP step, a finished sign-in's for
 * the passkey offer): an HMAC over what it is for (`purpose`), the interaction, the account and
 * an expiry, so the next step needs no server-side state (and works across instances that
 * share SECRET_KEY). The interaction itself stays bound to the browser and single use.
 */
function ticketFor (key: Buffer, purpose: string, interactionId: string, accountId: string, expiresAt: number): string {
  const mac = createHmac('sha256', key).update(`${purpose}.${interactionId}.${accountId}.${expiresAt}`).digest('base64url')
  return `${accountId}.${expiresAt}.${mac}`
}

function readTicket (key: Buffer, purpose: string, interactionId: string, ticket: unknown): string | undefined {
  if (typeof ticket !== 'string') return undefined
  const [accountId, expires] = ticket.split('.')
  const expiresAt = Number(expires)
  if (accountId === undefined || !Number.isInteger(expiresAt) || expiresAt < Date.now() / 1000) return undefined
  const expected = Buffer.from(ticketFor(key, purpose, interactionId, accountId, expiresAt))
  const actual = Buffer.from(ticket)
  return expected.length === actual.length && timingSafeEqual(expected, actual) ? accountId : undefined
}

function field (body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name]
  return typeof value === 'string' ? value : ''
}

/** Builds the example host from environment variables (tests call this with their own env). */
export async function buildCustomLoginServer (
  env: ExampleEnv = process.env,
  /** More provider options (tests shorten the device polling interval). */
  extra: Partial<OidcProviderOptions> = {}
): Promise<{ app: FastifyInstance, close: () => Promise<void> }> {
  const port = Number(env.PORT ?? 3000)
  const issuer = env.ISSUER !== undefined && env.ISSUER !== '' ? env.ISSUER : `http://localhost:${port}`
  const app = Fastify({ logger: { level: env.LOG_LEVEL ?? 'info' }, trustProxy: env.TRUST_PROXY === 'true' })
  await app.register(formbody)

  let store: Store = new MemoryStore()
  // Passkeys beside the rest: on Redis, shared by every instance like the sessions.
  let passkeys: PasskeyStore = new MemoryPasskeyStore()
  let closeStore = async (): Promise<void> => {}
  if ((env.REDIS_URL ?? '') !== '' || (env.REDIS_CLUSTER_NODES ?? '') !== '') {
    const redis = createRedisStore(env, app.log)
    store = redis.store
    passkeys = redis.passkeys
    closeStore = redis.close
  }
  const secretKey = env.SECRET_KEY !== undefined && env.SECRET_KEY !== '' ? env.SECRET_KEY : undefined
  const ticketKey = secretKey === undefined ? randomBytes(32) : createHmac('sha256', secretKey).update('custom-login ticket').digest()
  const keysDir = env.KEYS_DIR !== undefined && env.KEYS_DIR !== '' ? env.KEYS_DIR : fileURLToPath(new URL('../keys/', import.meta.url))

  await app.register(oidcProvider, {
    issuer,
    store,
    keys: fileKeys({ dir: keysDir, generateIfMissing: true }),
    users,
    ...(secretKey === undefined ? {} : { cookieSecret: secretKey }),
    registration: {},
    // Passkeys for app.oidc.passkeys.
    passkeys: { store: passkeys, rpName: 'Wonderland Corp' },
    // The custom scope, its claims and its consent text in one place (beside the standard ones).
    scopes: { roles: { claims: ['roles'], description: 'Your roles' } },
    // Access tokens carry the roles too, for the APIs that read them.
    tokenClaims: {
      accessToken: ({ account, scopes }) => scopes.has('roles') && Array.isArray(account?.roles) ? { roles: account.roles } : undefined,
    },
    // The provider decides what must happen; these routes decide how.
    interactions: {
      url: (interaction) => `${interaction.prompt === 'login' ? '/sign-in' : '/approve'}?interaction_id=${encodeURIComponent(interaction.id)}`,
      logoutUrl: (interaction) => `/sign-out?interaction_id=${encodeURIComponent(interaction.id)}`,
    },
    ...extra,
  })
  app.addHook('onClose', closeStore)

  // The interaction calls throw OAuthError (expired, other browser, cross-site post): a page.
  app.setErrorHandler(async (error, _request, reply) => {
    if (!(error instanceof OAuthError)) throw error
    return page(reply, 'This sign-in cannot continue', `<p id="error">${escapeHtml(error.error_description)}</p><p>Go back to the application and start again.</p>`, error.statusCode)
  })

  const ticketSeconds = 300
  const expiry = (): number => Math.floor(Date.now() / 1000) + ticketSeconds

  /** After the password (and TOTP): a user without a passkey is offered one, others go on. */
  async function signedIn (request: FastifyRequest, reply: FastifyReply, interaction: Interaction, accountId: string, amr: string[]): Promise<FastifyReply> {
    if ((await app.oidc.passkeys.list(accountId)).length === 0) {
      const factors = amr.join(' ')
      return enrolForm(reply, interaction, ticketFor(ticketKey, `enrol:${factors}`, interaction.id, accountId, expiry()), factors)
    }
    return await app.oidc.finishInteraction(request, reply, { login: { accountId, amr } })
  }

  // Served by the host, from this origin (the CSP's script-src 'self').
  app.get('/assets/passkeys.js', async (_request, reply) =>
    await reply.headers({ 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' }).send(passkeyPageScript))

  app.get('/sign-in', async (request, reply) => {
    const interaction = await app.oidc.getInteraction(request)
    return passwordForm(reply, interaction)
  })

  app.post('/sign-in', async (request, reply) => {
    const interaction = await app.oidc.getInteraction(request)
    const username = field(request.body, 'username')
    const check = await app.oidc.checkPassword(request, username, field(request.body, 'password'), interaction.client.clientId)
    if (!check.ok) {
      if (check.reason === 'locked') reply.header('retry-after', String(check.retryAfter))
      return passwordForm(reply, interaction, check.reason === 'locked' ? 'Too many attempts; try again later.' : 'That is not right.', username, check.reason === 'locked' ? 429 : 401)
    }
    if (secondFactors.has(check.accountId)) {
      return totpForm(reply, interaction, ticketFor(ticketKey, 'otp', interaction.id, check.accountId, expiry()))
    }
    return await signedIn(request, reply, interaction, check.accountId, ['pwd'])
  })

  app.post('/sign-in/otp', async (request, reply) => {
    const interaction = await app.oidc.getInteraction(request)
    const ticket = field(request.body, 'ticket')
    const accountId = readTicket(ticketKey, 'otp', interaction.id, ticket)
    if (accountId === undefined) return passwordForm(reply, interaction, 'Please sign in again.', '', 401)
    // window 1: the previous and next 30 s step are accepted too (clock drift, RFC 6238 §5.2).
    const valid = secondFactors.get(accountId)?.validate({ token: field(request.body, 'otp'), window: 1 }) ?? null
    if (valid === null) return totpForm(reply, interaction, ticket, 'That code is not valid.')
    return await signedIn(request, reply, interaction, accountId, ['pwd', 'otp'])
  })

  // "Sign in with a passkey": usernameless (no accountId), any passkey of this site. Loading the
  // interaction first checks the CSRF token, the browser binding and the cross-site guard.
  app.post('/sign-in/passkey-options', async (request, reply) => {
    await app.oidc.getInteraction(request)
    return await app.oidc.passkeys.authenticationOptions(reply)
  })

  app.post('/sign-in/passkey', async (request, reply) => {
    const interaction = await app.oidc.getInteraction(request)
    try {
      const login = await app.oidc.passkeys.verifyAuthentication(request, { response: field(request.body, 'response') })
      // amr ["hwk","user"] or ["swk","user"] (RFC 8176) and the documented acr of a passkey.
      return await app.oidc.finishInteraction(request, reply, { login: { accountId: login.accountId, amr: login.amr, acr: login.acr } })
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error
      const retryAfter = error.headers?.['retry-after']
      if (retryAfter !== undefined) reply.header('retry-after', retryAfter)
      return passwordForm(reply, interaction, `The passkey sign-in failed: ${error.error_description}.`, '', error.statusCode)
    }
  })

  // The offer's ceremony: only with the ticket of a finished password (and TOTP) step.
  app.post('/sign-in/passkey-enrol-options', async (request, reply) => {
    const interaction = await app.oidc.getInteraction(request)
    const accountId = readTicket(ticketKey, `enrol:${field(request.body, 'factors')}`, interaction.id, field(request.body, 'ticket'))
    if (accountId === undefined) throw new OAuthError('invalid_request', 'please sign in again')
    return await app.oidc.passkeys.registrationOptions(reply, { accountId, userName: accountId })
  })

  app.post('/sign-in/passkey-enrol', async (request, reply) => {
    const interaction = await app.oidc.getInteraction(request)
    const factors = field(request.body, 'factors')
    const ticket = field(request.body, 'ticket')
    const accountId = readTicket(ticketKey, `enrol:${factors}`, interaction.id, ticket)
    if (accountId === undefined) return passwordForm(reply, interaction, 'Please sign in again.', '', 401)
    const response = field(request.body, 'response')
    if (response !== '') {
      try {
        await app.oidc.passkeys.verifyRegistration(request, { accountId, response, name: field(request.body, 'name') })
      } catch (error) {
        if (!(error instanceof OAuthError)) throw error
        return enrolForm(reply, interaction, ticket, factors, `The passkey was not added: ${error.error_description}.`)
      }
    }
    // Added or not ("Not now"): the sign-in finishes with the factors the user showed.
    return await app.oidc.finishInteraction(request, reply, { login: { accountId, amr: factors.split(' ') } })
  })

  app.get('/approve', async (request, reply) => {
    const interaction = await app.oidc.getInteraction(request)
    const client = escapeHtml(interaction.client.clientName ?? interaction.client.clientId)
    const items = interaction.scopes.map((scope) =>
      `<li><label><input type="checkbox" name="scope" value="${escapeHtml(scope.name)}" id="scope-${escapeHtml(scope.name)}" checked> ${escapeHtml(scope.description)}</label></li>`).join('')
    // RFC 8628 §5.4: a device's sign-in did not start in this browser; say so before anything is shared.
    const device = interaction.device === true
      ? '<p id="device-note">A device or command-line tool asks to sign in as you. Approve only if you started it yourself.</p>'
      : ''
    return page(reply, 'Share with this app?', `${device}<p><strong>${client}</strong> asks for:</p>
<form method="post" action="/approve">${hidden(interaction)}<ul>${items}</ul>
<button type="submit" name="decision" value="approve" id="approve">Share the ticked items</button>
<button type="submit" name="decision" value="deny" class="deny" id="deny">Deny</button></form>`)
  })

  app.post('/approve', async (request, reply) => {
    const body = request.body as Record<string, unknown>
    if (body.decision !== 'approve') return await app.oidc.finishInteraction(request, reply, { error: 'access_denied' })
    const scopes = [body.scope ?? []].flat().filter((scope): scope is string => typeof scope === 'string')
    return await app.oidc.finishInteraction(request, reply, { consent: { scopes } })
  })

  app.get('/sign-out', async (request, reply) => {
    const interaction = await app.oidc.getLogoutInteraction(request)
    const client = interaction.client === undefined ? 'An application' : `<strong>${escapeHtml(interaction.client.clientName ?? interaction.client.clientId)}</strong>`
    return page(reply, 'Leaving Wonderland?', `<p>${client} asks to sign you out${interaction.account === undefined ? '' : ` (${escapeHtml(interaction.account.accountId)})`}.</p>
<form method="post" action="/sign-out">${hidden(interaction)}
<button type="submit" name="decision" value="logout" id="sign-out">Sign out</button>
<button type="submit" name="decision" value="stay" class="deny" id="stay">Stay signed in</button></form>`)
  })

  // Either answer goes back to the application's registered post_logout_redirect_uri (with state).
  app.post('/sign-out', async (request, reply) => {
    const body = request.body as Record<string, unknown>
    return await app.oidc.finishInteraction(request, reply, { logout: body.decision === 'logout' })
  })

  return { app, close: () => app.close() }
}

async function main (): Promise<void> {
  const { app } = await buildCustomLoginServer()
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
  }
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST !== undefined && process.env.HOST !== '' ? process.env.HOST : '127.0.0.1' })
  app.log.info(`Custom-login OpenID Provider ready: ${app.oidc.issuer}/.well-known/openid-configuration`)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(error)
    process.exit(1)
  })
}
