import type { FastifyReply, FastifyRequest } from 'fastify'
import { Signer, fastifyCookie } from '@fastify/cookie'
import type { ProviderContext } from '../contracts/context.js'

/**
 * The provider's two cookies, signed with the provider's own secret (not the host's
 * @fastify/cookie secret, which may differ or be absent):
 * - the login session (`<cookieName>`): the SSO session id;
 * - the browser id (`<cookieName>.bid`): binds pending login/consent requests to the browser
 *   that started them, so a form posted from another site (SameSite=Lax keeps the cookie off
 *   cross-site POSTs) or another browser is refused.
 * Both HttpOnly, SameSite=Lax (the authorization request arrives as a cross-site top-level GET,
 * which Lax allows), Secure when the issuer is https, and scoped to the issuer's path.
 */
export class ProviderCookies {
  readonly #signer: Signer
  readonly #sessionName: string
  readonly #browserName: string
  readonly #path: string
  readonly #secure: boolean
  readonly #sessionMaxAge: number

  constructor (ctx: ProviderContext) {
    const secrets = [ctx.options.cookieSecret ?? ''].flat()
    this.#signer = new Signer(secrets)
    this.#sessionName = ctx.options.cookieName
    this.#browserName = `${ctx.options.cookieName}.bid`
    this.#path = ctx.basePath === '' ? '/' : ctx.basePath
    this.#secure = ctx.issuer.startsWith('https:')
    this.#sessionMaxAge = ctx.options.ttl.session
  }

  #read (request: FastifyRequest, name: string): string | undefined {
    // The provider registers @fastify/cookie without its parsing hook, and a host route
    // (interaction API) may live outside its context: then the header is parsed here.
    const jar = request.cookies ?? (typeof request.headers.cookie === 'string' ? fastifyCookie.parse(request.headers.cookie) : undefined)
    const raw = jar?.[name]
    if (typeof raw !== 'string' || raw === '' || raw.length > 512) return undefined
    const result = this.#signer.unsign(raw)
    return result.valid && result.value !== null ? result.value : undefined
  }

  #write (reply: FastifyReply, name: string, value: string, maxAge: number | undefined): void {
    const options = {
      path: this.#path,
      httpOnly: true,
      sameSite: 'lax' as const,
      secure: this.#secure,
      ...(maxAge === undefined ? {} : { maxAge }),
    }
    if (typeof reply.setCookie === 'function') {
      reply.setCookie(name, this.#signer.sign(value), options)
      return
    }
    // A host reply outside our context (interaction API): the header is written directly.
    appendSetCookie(reply, fastifyCookie.serialize(name, this.#signer.sign(value), options))
  }

  sessionId (request: FastifyRequest): string | undefined {
    return this.#read(request, this.#sessionName)
  }

  /** `persistent: false` (a login without "remember me"): a browser-session cookie, no Max-Age. */
  setSession (reply: FastifyReply, sessionId: string, persistent = true): void {
    this.#write(reply, this.#sessionName, sessionId, persistent ? this.#sessionMaxAge : undefined)
  }

  clearSession (reply: FastifyReply): void {
    if (typeof reply.clearCookie === 'function') {
      reply.clearCookie(this.#sessionName, { path: this.#path })
      return
    }
    // A host reply outside our context (a logout finished on the host's page): an expired cookie.
    appendSetCookie(reply, fastifyCookie.serialize(this.#sessionName, '', {
      path: this.#path, httpOnly: true, sameSite: 'lax', secure: this.#secure, expires: new Date(0), maxAge: 0,
    }))
  }

  browserId (request: FastifyRequest): string | undefined {
    return this.#read(request, this.#browserName)
  }

  /** A browser-session cookie (no Max-Age): it identifies the browser, not the user. */
  setBrowserId (reply: FastifyReply, browserId: string): void {
    this.#write(reply, this.#browserName, browserId, undefined)
  }

  /**
   * The pending passkey ceremony's challenge (`<cookieName>.pkc`): signed and HttpOnly, so the
   * response of a ceremony is accepted only from the browser that asked for its options.
   */
  passkeyChallenge (request: FastifyRequest): string | undefined {
    return this.#read(request, `${this.#sessionName}.pkc`)
  }

  setPasskeyChallenge (reply: FastifyReply, value: string, maxAge: number): void {
    this.#write(reply, `${this.#sessionName}.pkc`, value, maxAge)
  }
}

/** Adds one Set-Cookie line to a reply, keeping those already set. */
function appendSetCookie (reply: FastifyReply, line: string): void {
  const previous = reply.getHeader('set-cookie')
  const cookies = previous === undefined ? [] : [previous].flat().map(String)
  reply.header('set-cookie', [...cookies, line])
}
