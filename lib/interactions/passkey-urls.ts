import { passkeyRoutes } from '../contracts/urls.js'

/** The CSP `script-src` of a page with passkeys: our two scripts' folder, nothing else. */
export function passkeyScriptSource (issuer: string, basePath: string): string {
  return `${new URL(issuer).origin}${basePath}/passkeys/`
}

/** The passkey URLs a page needs, under the provider's base path. */
export function passkeyUrls (basePath: string): Record<keyof typeof passkeyRoutes, string> {
  return Object.fromEntries(Object.entries(passkeyRoutes).map(([name, path]) => [name, basePath + path])) as Record<keyof typeof passkeyRoutes, string>
}
