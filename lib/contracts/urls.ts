/**
 * The named route table. Routes are registered from it and discovery, `iss`, form actions and
 * redirects are built from it, so they never drift apart (and the plugin works under a prefix).
 */
export const routes = {
  discovery: '/.well-known/openid-configuration',
  oauthMetadata: '/.well-known/oauth-authorization-server',
  jwks: '/jwks.json',
  authorize: '/authorize',
  consent: '/consent',
  token: '/token',
  userinfo: '/userinfo',
  introspect: '/introspect',
  revoke: '/revoke',
  register: '/register',
  logout: '/logout',
  /** RFC 9126: pushed authorization requests. */
  par: '/par',
  /** RFC 8628 §3.1: the device authorization endpoint. */
  deviceAuthorization: '/device_authorization',
  /** RFC 8628 §3.3: the verification URI, where the user enters the code. */
  device: '/device',
} as const

export type RouteName = keyof typeof routes

/** Absolute endpoint URLs, derived from the configured issuer only (never from Host headers). */
export type EndpointUrls = Record<RouteName, string>

/**
 * Endpoint URLs beside the issuer. The issuer itself is used byte for byte everywhere it is
 * published (discovery `issuer`, `iss` claims and parameters): OpenID Connect Discovery 1.0 §4.3
 * and RFC 8414 §3.3 make relying parties compare it exactly. Only here, to append a path, is a
 * terminating `/` removed (Discovery §4.1: "any terminating / MUST be removed before appending").
 */
export function endpointUrls (issuer: string): EndpointUrls {
  const base = issuer.replace(/\/+$/, '')
  const urls = {} as EndpointUrls
  for (const [name, path] of Object.entries(routes) as Array<[RouteName, string]>) {
    urls[name] = base + path
  }
  return urls
}

/**
 * Why `issuer` cannot be an issuer identifier, as a sentence (undefined when it can be one).
 * OpenID Connect Discovery 1.0 §3 and RFC 8414 §2: a URL using the https scheme (http is
 * accepted for development) with no query or fragment component.
 */
export function issuerProblem (issuer: string): string | undefined {
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    return `must be an absolute URL such as https://id.example.com, but "${issuer}" is not a URL`
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return `must be an https URL (http only for development), but "${issuer}" uses ${url.protocol.slice(0, -1)}`
  }
  if (issuer.includes('?') || issuer.includes('#')) {
    return `must not contain a query (?) or a fragment (#): an issuer is a URL without them (OpenID Connect Discovery 1.0 §3, RFC 8414 §2), but "${issuer}" has one`
  }
  if (url.username !== '' || url.password !== '') {
    return `must not contain a user name or password, but "${issuer}" has one`
  }
  return undefined
}

/** The path the browser sees for the plugin's root (the issuer's path), for cookies and forms. */
export function externalBasePath (issuer: string): string {
  return new URL(issuer).pathname.replace(/\/+$/, '')
}

/**
 * The loopback host names that may use plain http in development (RFC 8252 §7.3 and §8.3: the
 * literal loopback addresses, and `localhost`). One list for redirect URIs, back-channel logout
 * URIs and client metadata document URLs; the fetcher checks the resolved address again.
 */
const loopbackHostnames = new Set(['localhost', '127.0.0.1', '[::1]'])

export function isLoopbackHostname (hostname: string): boolean {
  return loopbackHostnames.has(hostname)
}

/**
 * Whether a client_id is meant as a metadata document URL: it starts with `https://` (or
 * `http://`, refused unless the development option allows it). Other ids are looked up in the
 * store as before.
 */
export function isClientIdUrl (clientId: string): boolean {
  return clientId.startsWith('https://') || clientId.startsWith('http://')
}

/** The passkey routes of the built-in pages (registered only with the `passkeys` option). */
/**
 * The account page (the `accountPage` option): the page, and its two forms. Not in `routes`:
 * they are not protocol endpoints and discovery does not name them.
 */
export const accountRoutes = {
  page: '/account',
  revokeApp: '/account/apps/revoke',
  endSession: '/account/sessions/end',
  /** With the `passkeys` option: registration options (JSON), then the ceremony's result. */
  passkeyOptions: '/account/passkeys/options',
  passkeyAdd: '/account/passkeys/add',
  passkeyRename: '/account/passkeys/rename',
  passkeyRemove: '/account/passkeys/remove',
} as const

export const passkeyRoutes = {
  /** @simplewebauthn/browser's bundle, served from here (no CDN). */
  library: '/passkeys/webauthn.js',
  /** The pages' own script (no inline script anywhere). */
  script: '/passkeys/passkeys.js',
  loginOptions: '/passkeys/login-options',
  login: '/passkeys/login',
  enrolOptions: '/passkeys/enrol-options',
  enrol: '/passkeys/enrol',
} as const
