import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { childEnv as childEnvOf } from '../helpers/child-env.js'
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto'
import { readdir, readFile, stat, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { calculateJwkThumbprint, type JWK } from 'jose'
import { fileKeys, type KeySet } from '../../lib/index.js'
import { runCli } from '../../lib/cli/main.js'
import { buildApp } from '../helpers/app.js'
import { freePort } from '../helpers/server.js'
import { fromRoot } from '../helpers/paths.js'
import { nodeScript } from '../helpers/node-script.js'

const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']
// Built, not written out: a literal PEM header in the repo looks like a committed key to scanners.
const pemHeader = `${'-'.repeat(5)}BEGIN PRIVATE KEY${'-'.repeat(5)}`
const silentLog = { log: { info () {}, warn () {} } }

interface Run { code: number, stdout: string, stderr: string }

/**
 * Runs the real CLI in a child process, in `cwd`, the way `npx fastify-oidc-provider` would (as
 * JavaScript under `npm test`: test/helpers/node-script.ts). A child costs up to seconds on a
 * loaded machine, so only what the process boundary decides runs here:
 * the default `./keys` folder of the working directory, `KEYS_DIR` from the environment, the
 * exit statuses and the stdout/stderr split. Everything else runs in-process (`runHere`).
 */
function run (cwd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = childEnvOf(env)
  if (env.KEYS_DIR === undefined) delete childEnv.KEYS_DIR
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeScript('lib', 'cli', 'bin.ts'), ...args], { cwd, env: childEnv }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

/** The same command in this process (same runCli, same output): the command logic, without a child's start-up. */
async function runHere (args: string[], env: Record<string, string> = {}): Promise<Run> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    stdout: { write: (text: string) => { stdout += text } },
    stderr: { write: (text: string) => { stderr += text } },
    env,
  })
  return { code, stdout, stderr }
}

const sha256 = (data: string): string => createHash('sha256').update(data).digest('hex')
const pemFiles = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((name) => name.endsWith('.pem')).sort()

t.test('keys generate writes a 0600 PKCS#8 key, prints its RFC 7638 kid, and never overwrites', async (t) => {
  const cwd = t.testdir()
  const first = await run(cwd, ['keys', 'generate'])
  t.equal(first.code, 0, first.stderr)
  const kid = first.stdout.trim()
  t.match(kid, /^[A-Za-z0-9_-]{43}$/, 'stdout is only the kid (a base64url SHA-256 thumbprint)')
  t.match(first.stderr, /wrote keys\/signing-key-\d{8}T\d{9}Z-[0-9a-f]{6}\.pem \(RS256, mode 0600\)/)

  const [file] = await pemFiles(join(cwd, 'keys'))
  const path = join(cwd, 'keys', file as string)
  t.equal((await stat(path)).mode & 0o777, 0o600, 'readable by the owner only')
  const pem = await readFile(path, 'utf8')
  t.match(pem, /^-{5}BEGIN PRIVATE KEY-{5}\n/, 'PKCS#8 PEM with no preamble for RS256')
  const publicJwk = createPublicKey(createPrivateKey(pem)).export({ format: 'jwk' }) as JWK
  t.equal(kid, await calculateJwkThumbprint(publicJwk), 'kid is the RFC 7638 thumbprint of the key on disk')

  const published = (await fileKeys({ dir: join(cwd, 'keys') }).load(silentLog)).publicKeys
  t.same(published.map((key) => key.kid), [kid], 'the printed kid is the one published')
  t.match(published[0], { kty: 'RSA', alg: 'RS256', use: 'sig' })

  const second = await runHere(['keys', 'generate', '--alg', 'ES256', '--dir', join(cwd, 'keys')])
  t.equal(second.code, 0, second.stderr)
  const files = await pemFiles(join(cwd, 'keys'))
  t.equal(files.length, 2, 'a second key is a second file')
  t.equal(files[0], file, 'names sort by creation time: the older key first')
  t.equal(sha256(await readFile(path, 'utf8')), sha256(pem), 'the first key is untouched')
  const loaded = await fileKeys({ dir: join(cwd, 'keys') }).load(silentLog)
  t.equal(loaded.signingKey.kid, second.stdout.trim(), 'the newest key signs')
  t.equal(loaded.signingKey.alg, 'ES256')
})

t.test('keys rotate adds a signing key, keeps the previous one published, prints both kids', async (t) => {
  const cwd = t.testdir()
  const generated = await runHere(['keys', 'generate', '--dir', join(cwd, 'rotating')])
  t.equal(generated.code, 0, generated.stderr)
  const oldKid = generated.stdout.trim()

  const rotated = await runHere(['keys', 'rotate', '--dir', join(cwd, 'rotating')])
  t.equal(rotated.code, 0, rotated.stderr)
  const match = /^previous kid: (\S+)\nnew kid: (\S+)\n$/.exec(rotated.stdout)
  t.ok(match, `prints the previous and the new kid: ${rotated.stdout}`)
  t.equal(match?.[1], oldKid)
  const newKid = match?.[2] as string
  t.not(newKid, oldKid)
  t.match(rotated.stderr, /SIGHUP/, 'says how to make a running provider pick the key up')

  const keySet: KeySet = await fileKeys({ dir: join(cwd, 'rotating') }).load(silentLog)
  t.equal(keySet.signingKey.kid, newKid, 'fileKeys signs with the new key')
  t.equal(keySet.signingKey.alg, 'RS256', 'rotate keeps the current algorithm by default')
  t.same(keySet.publicKeys.map((key) => key.kid), [newKid, oldKid], 'both published, the signer first')
})

t.test('rotating to another algorithm keeps every older key published with the alg it signed with', async (t) => {
  const dir = join(t.testdir(), 'keys')
  t.equal((await runHere(['keys', 'generate', '--dir', dir])).code, 0)
  const toEs = await runHere(['keys', 'rotate', '--alg', 'es256', '--dir', dir])
  t.equal(toEs.code, 0, toEs.stderr)
  const toPs = await runHere(['keys', 'rotate', '--alg', 'PS256', '--dir', dir])
  t.equal(toPs.code, 0, toPs.stderr)
  const psKid = /new kid: (\S+)/.exec(toPs.stdout)?.[1]

  const keySet = await fileKeys({ dir }).load(silentLog)
  t.equal(keySet.signingKey.kid, psKid)
  t.equal(keySet.signingKey.alg, 'PS256', 'the PEM file carries its PS256 algorithm')
  t.same(keySet.publicKeys.map((key) => [key.kty, key.alg]), [['RSA', 'PS256'], ['RSA', 'RS256'], ['EC', 'ES256']])
})

t.test('keys jwks prints exactly what /jwks.json serves, without private members', async (t) => {
  const cwd = t.testdir()
  // Not ./keys: the child finds the folder only through KEYS_DIR, its default, as for the example server.
  const dir = join(cwd, 'elsewhere')
  t.equal((await runHere(['keys', 'generate', '--dir', dir])).code, 0)
  t.equal((await runHere(['keys', 'rotate', '--alg', 'ES256', '--dir', dir])).code, 0)
  const printed = await run(cwd, ['keys', 'jwks'], { KEYS_DIR: dir })
  const pretty = await runHere(['keys', 'jwks', '--pretty', '--dir', dir])
  t.equal(printed.code, 0, printed.stderr)
  const jwks = JSON.parse(printed.stdout) as { keys: Array<Record<string, unknown>> }
  t.equal(jwks.keys.length, 2)
  for (const key of jwks.keys) {
    for (const member of privateMembers) t.notOk(member in key, `no "${member}" in ${String(key.kid)}`)
  }

  const app = await buildApp(t, { keys: fileKeys({ dir }) })
  const served = await app.inject({ url: '/jwks.json' })
  t.equal(served.statusCode, 200)
  t.equal(printed.stdout, `${served.body}\n`, 'byte for byte the served JWKS')

  t.same(JSON.parse(pretty.stdout), jwks, '--pretty is the same JSON, indented')
  t.match(pretty.stdout, /^\{\n {2}"keys"/)
})

t.test('a key file with a newer modification time keeps signing, and rotate says so', async (t) => {
  const dir = join(t.testdir(), 'keys')
  const first = await runHere(['keys', 'generate', '--dir', dir])
  const [file] = await pemFiles(dir)
  const future = new Date(Date.now() + 3_600_000)
  await utimes(join(dir, file as string), future, future)
  const rotated = await runHere(['keys', 'rotate', '--dir', dir])
  t.equal(rotated.code, 0)
  t.match(rotated.stderr, new RegExp(`warning: .* is not the newest key file by modification time; kid ${first.stdout.trim()} still signs`))
})

t.test('bad input: a message on stderr, a non-zero exit, nothing written', async (t) => {
  const cwd = t.testdir()
  // Exit statuses as the shell sees them: 2 for a wrong call, 1 for a command that failed.
  const [usage, failure] = await Promise.all([
    run(cwd, ['keys', 'generate', '--alg', 'HS256']),
    run(cwd, ['keys', 'rotate']),
  ])
  t.equal(usage.code, 2)
  t.equal(usage.stderr, 'error: --alg must be one of RS256, PS256, ES256, EdDSA (or a comma-separated list, or all), got "HS256"\nRun "fastify-oidc-provider --help" for usage.\n')
  t.equal(failure.code, 1)
  t.match(failure.stderr, /^error: .*no private key in keys \(run: npx fastify-oidc-provider keys generate --dir keys\)\n$/)
  t.equal(usage.stdout + failure.stdout, '', 'nothing on stdout')

  const dir = join(cwd, 'keys')
  const cases: Array<{ args: string[], code: number, message: RegExp }> = [
    { args: [], code: 2, message: /^error: missing command\n/ },
    { args: ['nope'], code: 2, message: /^error: unknown command "nope"/ },
    { args: ['keys'], code: 2, message: /missing keys command/ },
    { args: ['keys', 'delete'], code: 2, message: /unknown keys command "delete"/ },
    { args: ['keys', 'generate', '--alg'], code: 2, message: /keys generate: Option '--alg <value>' argument missing/ },
    { args: ['keys', 'generate', '--dir', ' '], code: 2, message: /--dir must not be empty/ },
    { args: ['keys', 'generate', '--dir', dir, 'extra'], code: 2, message: /Unexpected argument 'extra'/ },
    { args: ['keys', 'rotate', '--dir', dir, '--alg', 'none'], code: 2, message: /--alg must be one of/ },
    { args: ['keys', 'jwks', '--dir', dir, '--alg', 'RS256'], code: 2, message: /keys jwks: Unknown option '--alg'/ },
    { args: ['keys', 'jwks', '--dir', dir], code: 1, message: /no private key in / },
  ]
  for (const c of cases) {
    const result = await runHere(c.args)
    t.equal(result.code, c.code, `exit ${c.code} for: ${c.args.join(' ')}`)
    t.match(result.stderr, c.message)
    t.equal(result.stdout, '', 'nothing on stdout')
  }
  t.same(await readdir(cwd), [], 'no key folder was created')

  const broken = await runHere(['keys', 'jwks', '--dir', t.testdir({ 'broken.pem': 'not a key' })])
  t.equal(broken.code, 1)
  t.match(broken.stderr, /^error: .*cannot read key file .*broken\.pem/)
  const badAlg = await runHere(['keys', 'jwks', '--dir', t.testdir({ 'old.pem': `alg: HS256\n${pemHeader}\n` })])
  t.equal(badAlg.code, 1)
  t.match(badAlg.stderr, /unsupported alg "HS256"/)
})

t.test('--help and --version answer on stdout with exit 0', async (t) => {
  const cwd = t.testdir()
  const version = await run(cwd, ['--version'])
  const help = await runHere(['--help'])
  const keysHelp = await runHere(['keys', '--help'])
  const subHelp = await runHere(['keys', 'rotate', '-h'])
  t.equal(help.code, 0)
  t.match(help.stdout, /Usage: fastify-oidc-provider <command>/)
  t.match(help.stdout, /keys generate \[--alg RS256\|PS256\|ES256\|EdDSA\|all\] \[--dir DIR\]/)
  t.equal(keysHelp.code, 0)
  t.match(keysHelp.stdout, /^Usage: fastify-oidc-provider keys/)
  t.equal(subHelp.code, 0)
  t.match(subHelp.stdout, /keys rotate/)
  const pkg = JSON.parse(await readFile(fromRoot('package.json'), 'utf8')) as { version: string }
  t.equal(version.stdout, `${pkg.version}\n`)
  t.same(await readdir(cwd), [], 'help writes nothing')
})

t.test('the example server picks up a rotated key on SIGHUP and keeps the old kid published', async (t) => {
  const cwd = t.testdir()
  const port = await freePort()
  const server = spawn(process.execPath, nodeScript('examples', 'server.ts'), {
    cwd,
    env: childEnvOf({ PORT: String(port), HOST: '127.0.0.1', KEYS_DIR: join(cwd, 'keys'), LOG_LEVEL: 'info', SECRET_KEY: 'k'.repeat(32), REDIS_URL: '' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => { server.kill('SIGTERM') })
  let log = ''
  server.stdout.on('data', (chunk: Buffer) => { log += chunk.toString() })
  server.stderr.on('data', (chunk: Buffer) => { log += chunk.toString() })
  const until = async (condition: () => Promise<boolean> | boolean, what: string): Promise<void> => {
    // A deadline, generous: a loaded machine took tens of seconds to start tsx and generate the keys.
    const deadline = Date.now() + 120_000
    while (Date.now() < deadline) {
      if (await condition()) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`timed out waiting for ${what}; server log:\n${log}`)
  }
  const kids = async (): Promise<string[]> => {
    const res = await fetch(`http://127.0.0.1:${port}/jwks.json`)
    return ((await res.json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid)
  }
  await until(() => log.includes('OpenID Provider ready'), 'the example server')
  const before = await kids()
  t.equal(before.length, 4, 'the example generated one key per algorithm (RS256, PS256, ES256, EdDSA)')

  const rotated = await runHere(['keys', 'rotate', '--dir', join(cwd, 'keys')])
  t.equal(rotated.code, 0, rotated.stderr)
  const newKid = /new kid: (\S+)/.exec(rotated.stdout)?.[1] as string
  t.same(await kids(), before, 'nothing changes until the server is told')

  server.kill('SIGHUP')
  await until(async () => (await kids()).length === 5, 'the reloaded JWKS')
  const after = await kids()
  t.equal(after[0], newKid, 'the new RS256 key is the default signer')
  t.same([...after.slice(1)].sort(), [...before].sort(), 'every old kid stays published')
})

t.test('keys generate --alg all writes one key per algorithm; rotate --alg rotates only that one', async (t) => {
  const cwd = t.testdir()
  const all = await runHere(['keys', 'generate', '--alg', 'all', '--dir', join(cwd, 'keys')])
  t.equal(all.code, 0, all.stderr)
  const kids = all.stdout.trim().split('\n')
  t.equal(kids.length, 4, 'one kid per algorithm')
  let keySet = await fileKeys({ dir: join(cwd, 'keys') }).load(silentLog)
  const byAlg = new Map((keySet.signingKeys ?? []).map((key) => [key.alg, key.kid]))
  t.same([...byAlg.keys()].sort(), ['ES256', 'EdDSA', 'PS256', 'RS256'])
  for (const jwk of keySet.publicKeys) t.equal(jwk.kid, await calculateJwkThumbprint(jwk as JWK), `${jwk.alg} kid is the RFC 7638 thumbprint`)
  t.same(keySet.publicKeys.find((jwk) => jwk.alg === 'EdDSA'), { kty: 'OKP', crv: 'Ed25519', x: keySet.publicKeys.find((jwk) => jwk.alg === 'EdDSA')?.x, kid: byAlg.get('EdDSA'), alg: 'EdDSA', use: 'sig' })

  const rotated = await runHere(['keys', 'rotate', '--alg', 'eddsa', '--dir', join(cwd, 'keys')])
  t.equal(rotated.code, 0, rotated.stderr)
  const newKid = /new kid: (\S+)/.exec(rotated.stdout)?.[1]
  t.match(rotated.stdout, `previous kid: ${byAlg.get('EdDSA')}`)
  keySet = await fileKeys({ dir: join(cwd, 'keys') }).load(silentLog)
  const after = new Map((keySet.signingKeys ?? []).map((key) => [key.alg, key.kid]))
  t.equal(after.get('EdDSA'), newKid, 'the new EdDSA key signs EdDSA')
  t.equal(after.get('ES256'), byAlg.get('ES256'), 'the other algorithms keep their keys')
  t.equal(after.get('RS256'), byAlg.get('RS256'))
  t.equal(keySet.publicKeys.length, 5, 'the old EdDSA key stays published')
  const lists = await runHere(['keys', 'rotate', '--alg', 'ES256,EdDSA', '--dir', join(cwd, 'keys')])
  t.equal(lists.code, 2, 'rotate takes one algorithm')
})
