/**
 * Sign in a command-line tool with the device authorization grant (RFC 8628):
 * `npm run example:device` (with `npm start` running).
 *
 * The tool registers itself with the example provider (a public client for the device grant),
 * starts a device authorization with openid-client, prints the code, the URL and a QR code of
 * `verification_uri_complete` in the terminal, polls until you have signed in and approved in
 * a browser (on this machine or your phone), then prints your name from the UserInfo endpoint.
 *
 * Environment: ISSUER (default http://localhost:3000), CLIENT_ID (skip registration and use
 * this public client, registered for the device grant).
 */
import { fileURLToPath } from 'node:url'
import QRCode from 'qrcode'
import * as client from 'openid-client'

const deviceGrant = 'urn:ietf:params:oauth:grant-type:device_code'

export interface DeviceCliOptions {
  issuer: URL
  clientId?: string
  scope?: string
  /** Where the tool writes (the terminal by default). */
  print?: (line: string) => void
  /** Called with what the user must open, once the device authorization has started. */
  onStarted?: (started: client.DeviceAuthorizationResponse) => void
}

/** The whole tool: register (unless given a client), start, show, poll, greet. Resolves with the user's name. */
export async function runDeviceCli (options: DeviceCliOptions): Promise<string> {
  const print = options.print ?? ((line: string) => { console.log(line) })
  // http is fine on loopback for this demo; a real tool talks to an https issuer.
  const insecure = options.issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}
  const scope = options.scope ?? 'openid profile'
  const config = options.clientId !== undefined
    ? await client.discovery(options.issuer, options.clientId, undefined, client.None(), insecure)
    : await client.dynamicClientRegistration(options.issuer, {
      client_name: 'Device example CLI',
      grant_types: [deviceGrant],
      token_endpoint_auth_method: 'none',
      application_type: 'native',
      scope,
    }, client.None(), insecure)

  const started = await client.initiateDeviceAuthorization(config, { scope })
  options.onStarted?.(started)
  const link = started.verification_uri_complete ?? started.verification_uri
  print(`To sign in, open ${started.verification_uri} and enter the code ${started.user_code}`)
  print(`or scan this code with your phone (it still asks you to confirm ${started.user_code}):`)
  print(await QRCode.toString(link, { type: 'terminal', small: true }))
  print(`Waiting for you to approve (the code expires in ${Math.round(started.expires_in / 60)} minutes)...`)

  const tokens = await client.pollDeviceAuthorizationGrant(config, started)
  const claims = tokens.claims()
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims?.sub ?? client.skipSubjectCheck)
  const name = String(userinfo.name ?? userinfo.sub)
  print(`Signed in as ${name}.`)
  return name
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  runDeviceCli({
    issuer: new URL(process.env.ISSUER ?? 'http://localhost:3000'),
    ...(process.env.CLIENT_ID === undefined || process.env.CLIENT_ID === '' ? {} : { clientId: process.env.CLIENT_ID }),
  }).catch((error: unknown) => {
    console.error('The sign-in failed:', error instanceof Error ? error.message : error)
    process.exitCode = 1
  })
}
