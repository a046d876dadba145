import t from 'tap'
import { spawn } from 'node:child_process'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { envVar, loadDotEnv, readCommonEnv } from '../../examples/env.js'
import { buildExampleServer } from '../../examples/server.js'
import { parseClusterNodes } from '../../examples/redis.js'
import { childEnv } from '../helpers/child-env.js'
import { freePort } from '../helpers/server.js'
import { nodeScript, scriptRoot } from '../helpers/node-script.js'
import { exampleKeysDir } from '../helpers/example-keys.js'

/**
 * The example server's environment (examples/env.ts): empty means unset for every variable, a
 * malformed value stops the start with one line naming the variable, `.env` is read.
 */

// The example server's default KEYS_DIR is keys/ beside its examples/ folder, in the tree the child runs from.
const defaultKeys = join(scriptRoot('examples', 'server.ts'), 'keys') + '/'
const contract = ['PORT', 'HOST', 'ISSUER', 'STORE', 'REDIS_URL', 'REDIS_CLUSTER_NODES', 'DATABASE_URL', 'DATABASE_SCHEMA', 'SECRET_KEY', 'KEYS_DIR', 'LOG_LEVEL', 'TRUST_PROXY',
  'CODE_TTL', 'ACCESS_TOKEN_TTL', 'ID_TOKEN_TTL', 'REFRESH_TOKEN_TTL', 'DEVICE_CODE_TTL']

/** The child's environment: the test's, without any contract variable, plus `extra`. */
function env (extra: Record<string, string>): NodeJS.ProcessEnv {
  const base = childEnv()
  for (const name of contract) delete base[name]
  return { ...base, ...extra }
}

interface Child { code: number | null, stdout: string, stderr: string }

/** Starts the example like `npm start` does; resolves when it exits or when `ready` says so. */
function start (t: { teardown (fn: () => unknown): void }, cwd: string, childEnvironment: NodeJS.ProcessEnv): { exited: Promise<Child>, ready: Promise<void> } {
  const child = spawn(process.execPath, nodeScript('examples', 'server.ts'), { cwd, env: childEnvironment, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill('SIGTERM') })
  let stdout = ''
  let stderr = ''
  let markReady = (): void => {}
  const ready = new Promise<void>((resolve) => { markReady = resolve })
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
    if (stdout.includes('OpenID Provider ready')) markReady()
  })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<Child>((resolve) => { child.on('exit', (code) => { resolve({ code, stdout, stderr }) }) })
  const readyOrExit = Promise.race([ready, exited.then((result) => { throw new Error(`the example exited ${result.code}: ${result.stderr}`) })])
  // Only some callers wait for readiness; an exit is then expected, not an unhandled rejection.
  readyOrExit.catch(() => {})
  return { exited, ready: readyOrExit }
}

t.test('empty means unset, for every variable of the contract', async (t) => {
  const empty = Object.fromEntries(contract.map((name) => [name, '']))
  const config = readCommonEnv(empty)
  t.same(config, { port: 3000, host: '127.0.0.1', issuer: 'http://localhost:3000', trustProxy: false, logLevel: 'info', store: 'memory' }, 'all defaults')
  t.same(readCommonEnv(Object.fromEntries(contract.map((name) => [name, '  ']))), config, 'blank is empty too')
  t.equal(envVar.seconds({ CODE_TTL: '' }, 'CODE_TTL'), undefined)
  t.equal(envVar.string({ X: '' }, 'X'), undefined)
  const { app, config: built } = await buildExampleServer({ ...empty, LOG_LEVEL: 'silent' })
  t.teardown(() => app.close())
  await app.ready()
  t.equal(app.oidc.issuer, 'http://localhost:3000', 'the example starts on the defaults')
  t.equal(built.keysDir, undefined, 'KEYS_DIR= is the default keys folder')
})

t.test('an ISSUER with a path mounts the provider under it; its metadata also answers path-inserted at the root', async (t) => {
  const { app } = await buildExampleServer({ ISSUER: 'http://localhost:3000/oidc', KEYS_DIR: await exampleKeysDir(), LOG_LEVEL: 'silent' })
  t.teardown(() => app.close())
  const underPath = await app.inject({ url: '/oidc/.well-known/openid-configuration' })
  t.equal(underPath.statusCode, 200)
  const doc = underPath.json() as Record<string, string>
  t.equal(doc.issuer, 'http://localhost:3000/oidc')
  t.equal(doc.jwks_uri, 'http://localhost:3000/oidc/jwks.json')
  t.equal((await app.inject({ url: '/oidc/jwks.json' })).statusCode, 200, 'what discovery names is served')
  t.equal((await app.inject({ url: '/jwks.json' })).statusCode, 404, 'not at the root')
  const inserted = await app.inject({ url: '/.well-known/oauth-authorization-server/oidc' })
  t.equal(inserted.statusCode, 200)
  t.equal(inserted.json().issuer, 'http://localhost:3000/oidc')
})

t.test('well-formed values are read', async (t) => {
  const config = readCommonEnv({
    PORT: '8080',
    HOST: '0.0.0.0',
    ISSUER: 'https://id.example.com/oidc',
    REDIS_URL: 'rediss://user:pw@redis.example.com:6380/1',
    REDIS_CLUSTER_NODES: '10.0.0.1:7000, [::1]:7001',
    SECRET_KEY: 's'.repeat(32),
    KEYS_DIR: ' /srv/keys ',
    TRUST_PROXY: 'TRUE',
    LOG_LEVEL: 'warn',
  })
  t.same(config, {
    port: 8080,
    host: '0.0.0.0',
    issuer: 'https://id.example.com/oidc',
    redisUrl: 'rediss://user:pw@redis.example.com:6380/1',
    redisClusterNodes: [{ host: '10.0.0.1', port: 7000 }, { host: '[::1]', port: 7001 }],
    secretKey: 's'.repeat(32),
    keysDir: '/srv/keys',
    trustProxy: true,
    logLevel: 'warn',
    store: 'redis',
  })
  t.same(readCommonEnv({ STORE: 'postgres', DATABASE_URL: 'postgres://oidc@db:5432/oidc', DATABASE_SCHEMA: 'idp', REDIS_URL: 'redis://r:6379' }),
    { port: 3000, host: '127.0.0.1', issuer: 'http://localhost:3000', trustProxy: false, logLevel: 'info', store: 'postgres', databaseUrl: 'postgres://oidc@db:5432/oidc', databaseSchema: 'idp', redisUrl: 'redis://r:6379' },
    'STORE chooses; DATABASE_URL and DATABASE_SCHEMA are read')
  t.equal(readCommonEnv({ PORT: '4000' }).issuer, 'http://localhost:4000', 'the default issuer follows PORT')
  t.equal(readCommonEnv({ HOST: '::' }).host, '::')
  t.equal(envVar.boolean({ X: 'false' }, 'X'), false)
  t.same(parseClusterNodes('127.0.0.1:7000, redis-b:7001,'), [{ host: '127.0.0.1', port: 7000 }, { host: 'redis-b', port: 7001 }])
})

t.test('a malformed value is one EnvError naming the variable and the expected form', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'abc' }, /^PORT must be a TCP port number from 0 to 65535, got "abc"$/],
    [{ PORT: '70000' }, /^PORT must be a TCP port number/],
    [{ PORT: '3000.5' }, /^PORT must be/],
    [{ HOST: 'http://localhost' }, /^HOST must be a host name or IP address/],
    [{ ISSUER: 'localhost:3000' }, /^ISSUER must be an absolute http\(s\) URL/],
    [{ ISSUER: 'ftp://id.example.com' }, /^ISSUER must be an absolute http\(s\) URL/],
    [{ ISSUER: 'https://id.example.com/?a=1' }, /^ISSUER must be an absolute http\(s\) URL without query or fragment/],
    [{ ISSUER: 'https://id.example.com/#x' }, /^ISSUER must be/],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, /^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ REDIS_URL: '127.0.0.1:6379' }, /^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ REDIS_CLUSTER_NODES: '127.0.0.1' }, /^REDIS_CLUSTER_NODES must be a comma-separated host:port list/],
    [{ REDIS_CLUSTER_NODES: ',,' }, /^REDIS_CLUSTER_NODES must be/],
    [{ SECRET_KEY: 'short-secret' }, /^SECRET_KEY must be at least 32 characters .*, got 12 characters$/],
    [{ TRUST_PROXY: 'yes' }, /^TRUST_PROXY must be true or false, got "yes"$/],
    [{ LOG_LEVEL: 'verbose' }, /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/],
    [{ STORE: 'mysql' }, /^STORE must be one of memory, redis, postgres/],
    [{ STORE: 'postgres' }, /^DATABASE_URL must be set with STORE=postgres/],
    [{ STORE: 'redis' }, /^REDIS_URL must be set with STORE=redis/],
    [{ STORE: 'postgres', DATABASE_URL: 'mysql://db/x' }, /^DATABASE_URL must be a postgres:\/\/ URL/],
    [{ DATABASE_SCHEMA: 'a;b' }, /^DATABASE_SCHEMA must be a schema name/],
  ]
  for (const [input, message] of cases) {
    t.throws(() => readCommonEnv(input), { name: 'EnvError', message }, JSON.stringify(input))
  }
  try {
    readCommonEnv({ SECRET_KEY: 'my-short-pw' })
    t.fail('a short SECRET_KEY was accepted')
  } catch (error) {
    t.notMatch((error as Error).message, 'my-short-pw', 'a secret is never printed')
  }
  t.throws(() => parseClusterNodes('h:70000'), /REDIS_CLUSTER_NODES/)
  for (const name of ['CODE_TTL', 'ACCESS_TOKEN_TTL', 'ID_TOKEN_TTL', 'REFRESH_TOKEN_TTL', 'DEVICE_CODE_TTL']) {
    await t.rejects(buildExampleServer({ [name]: '0', LOG_LEVEL: 'silent' }), { name: 'EnvError', message: `${name} must be a positive whole number of seconds, got "0"` }, `${name}=0`)
    await t.rejects(buildExampleServer({ [name]: '1h', LOG_LEVEL: 'silent' }), { name: 'EnvError', message: new RegExp(`^${name} must be a positive whole number of seconds`) })
  }
})

t.test('started as children (both at once, tsx is slow on a busy machine): KEYS_DIR= and .env, a malformed value', async (t) => {
  const dir = t.testdir({ run: { '.env': '' } })
  const port = await freePort()
  // Read from .env in the working directory (copied from .env.example, with comments).
  await writeFile(join(dir, 'run', '.env'), [
    '# like .env.example',
    `PORT=${port}`,
    'HOST=127.0.0.1',
    `ISSUER=http://from-dotenv.localhost:${port}`,
    'LOG_LEVEL=info',
    'CODE_TTL=120',
    '',
  ].join('\n'))
  // `KEYS_DIR= npm start`: the other variables empty in the environment (and absent from .env).
  const started = start(t, join(dir, 'run'), env({ KEYS_DIR: '', SECRET_KEY: '', REDIS_URL: '', TRUST_PROXY: '', ACCESS_TOKEN_TTL: '' }))
  // One malformed value: the other malformed values are the in-process cases above.
  const failed = start(t, join(dir, 'run'), env({ PORT: 'not-a-port' })).exited

  await started.ready
  const discovery = await (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).json() as { issuer: string }
  t.equal(discovery.issuer, `http://from-dotenv.localhost:${port}`, '.env was read: ISSUER and PORT came from it')
  const callback = await (await fetch(`http://127.0.0.1:${port}/callback?code=c`)).text()
  t.match(callback, /valid 120 s/, 'CODE_TTL came from .env too')
  const jwks = await (await fetch(`http://127.0.0.1:${port}/jwks.json`)).json() as { keys: unknown[] }
  t.equal(jwks.keys.length >= 1, true, 'KEYS_DIR= started on a key')
  t.ok((await readdir(defaultKeys)).some((name) => name.endsWith('.pem') || name.endsWith('.json')), 'the key is in the default keys folder')

  const result = await failed
  t.equal(result.code, 1, 'PORT=not-a-port: exit code 1')
  const lines = result.stderr.trim().split('\n')
  t.equal(lines.length, 1, 'one line')
  t.match(lines[0], /^example server: PORT must be a TCP port number from 0 to 65535, got "not-a-port"$/)
  t.notMatch(result.stderr + result.stdout, /\n\s+at /, 'no stack trace')
})

t.test('loadDotEnv fills only what the environment does not set', async (t) => {
  const dir = t.testdir({ 'test.env': 'A12_DOTENV_SET=from-file\nA12_DOTENV_NEW=from-file\n' })
  process.env.A12_DOTENV_SET = 'from-env'
  t.teardown(() => { delete process.env.A12_DOTENV_SET; delete process.env.A12_DOTENV_NEW })
  t.equal(loadDotEnv(join(dir, 'test.env')), true)
  t.equal(process.env.A12_DOTENV_SET, 'from-env', 'the environment wins')
  t.equal(process.env.A12_DOTENV_NEW, 'from-file', 'the file fills the rest')
  t.equal(loadDotEnv(join(dir, 'missing.env')), false, 'no file: nothing happens')
})
