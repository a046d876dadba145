import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, startServer } from '../helpers/server.js'
import { HttpBrowser } from '../helpers/http-browser.js'
import { testUsers } from '../helpers/users.js'

/*
 * Apache's mod_auth_openidc (Debian's apache2 + libapache2-mod-auth-openidc), the most
 * deployed server-side relying party, with `OIDCResponseMode form_post`: one Apache, started
 * as a child process (-X: one process, in the foreground) on a free port with a config of its
 * own in a temporary directory; the protected page is a CGI script printing the claims
 * mod_auth_openidc passes it.
 */

const apache = '/usr/sbin/apache2'
const modules = '/usr/lib/apache2/modules'
if (!existsSync(apache) || !existsSync(join(modules, 'mod_auth_openidc.so'))) {
  if (process.env.CI === 'true') throw new Error('apache2 and libapache2-mod-auth-openidc are required under CI (apt-get install apache2 libapache2-mod-auth-openidc)')
  t.plan(0, 'apache2 or mod_auth_openidc is not installed (apt-get install apache2 libapache2-mod-auth-openidc)')
  process.exit(0)
}

const rpPort = await freePort()
const RP = `http://127.0.0.1:${rpPort}`
const REDIRECT = `${RP}/protected/redirect_uri`
const SECRET = 'apache-app-secret-0123456789'
const { issuer } = await startServer(t, {
  users: testUsers,
  clients: [{ client_id: 'apache-app', client_secret: SECRET, redirect_uris: [REDIRECT], client_name: 'Apache' }],
})

const dir = mkdtempSync(join(tmpdir(), 'mod-auth-openidc-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
// Apache, started as root, serves as www-data: it must read the script and the document root.
chmodSync(dir, 0o755)
mkdirSync(join(dir, 'htdocs', 'protected'), { recursive: true })
const script = join(dir, 'htdocs', 'protected', 'claims')
writeFileSync(script, '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n"\nenv | grep "^OIDC_CLAIM_" | sort\n')
chmodSync(script, 0o755)
const runsAsRoot = process.getuid?.() === 0
writeFileSync(join(dir, 'httpd.conf'), `
ServerRoot "${dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:${rpPort}
PidFile "${dir}/httpd.pid"
DefaultRuntimeDir "${dir}"
ErrorLog "${dir}/error.log"
LogLevel warn
# One process (-X) serves one connection at a time: a kept-alive one would hold the next.
KeepAlive Off
${runsAsRoot ? 'User www-data\nGroup www-data' : ''}
LoadModule mpm_prefork_module ${modules}/mod_mpm_prefork.so
LoadModule authn_core_module ${modules}/mod_authn_core.so
LoadModule authz_core_module ${modules}/mod_authz_core.so
LoadModule authz_user_module ${modules}/mod_authz_user.so
LoadModule cgi_module ${modules}/mod_cgi.so
LoadModule headers_module ${modules}/mod_headers.so
LoadModule auth_openidc_module ${modules}/mod_auth_openidc.so
DocumentRoot "${dir}/htdocs"
# Node's fetch always sends Sec-Fetch-Mode: cors, which mod_auth_openidc takes for a script's
# request (401, no redirect to the provider); the test's browser is navigating.
RequestHeader unset Sec-Fetch-Mode early

OIDCProviderMetadataURL ${issuer}/.well-known/openid-configuration
OIDCClientID apache-app
OIDCClientSecret ${SECRET}
OIDCRedirectURI ${REDIRECT}
OIDCCryptoPassphrase a-passphrase-for-the-test-only
OIDCResponseMode form_post
OIDCScope "openid email profile"
OIDCPKCEMethod S256
OIDCPassClaimsAs environment

<Directory "${dir}/htdocs/protected">
  Options +ExecCGI
  SetHandler cgi-script
</Directory>
<Location /protected>
  AuthType openid-connect
  Require valid-user
</Location>
`)

const child: ChildProcess = spawn(apache, ['-X', '-f', join(dir, 'httpd.conf')], { stdio: ['ignore', 'pipe', 'pipe'] })
let output = ''
child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
t.teardown(async () => {
  child.kill('SIGTERM')
  await exited
})

/** Apache answers (any status) once it listens; bounded, so a broken config fails with its log. */
async function apacheReady (): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break
    try {
      await fetch(`${RP}/`, { signal: AbortSignal.timeout(2000) })
      return
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''
  throw new Error(`Apache did not start: ${output}${log}`)
}

t.test('OIDCResponseMode form_post: signs in, and the protected page sees the claims', async (t) => {
  await apacheReady()
  const browser = new HttpBrowser()
  const end = await browser.signIn(`${RP}/protected/claims`, { username: 'demo', password: 'demo' })
  t.ok(browser.sawLogin && browser.sawConsent, 'our login and consent pages')
  t.same(end.formPosts, [REDIRECT], 'the code came back by form_post')
  t.equal(end.status, 200, `${end.body.slice(0, 300)}${readFileSync(join(dir, 'error.log'), 'utf8').slice(-2000)}`)
  t.equal(end.url, `${RP}/protected/claims`)
  t.match(end.body, /^OIDC_CLAIM_sub=demo$/m, 'sub')
  t.match(end.body, /^OIDC_CLAIM_email=\S+@\S+$/m, 'a scope claim')
  t.match(end.body, new RegExp(`^OIDC_CLAIM_iss=${issuer.replace(/[.]/g, '\\.')}$`, 'm'), 'iss')

  // Signed in now: the next visit is served from mod_auth_openidc's session, no round trip.
  const again = await browser.send(`${RP}/protected/claims`)
  t.equal(again.status, 200)
  t.match(await again.text(), /^OIDC_CLAIM_sub=demo$/m)
})
