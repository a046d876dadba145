import t from 'tap'
import { mkdtemp, readdir, stat, writeFile, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPairSync } from 'node:crypto'
import { calculateJwkThumbprint, compactVerify, importJWK } from 'jose'
import Fastify from 'fastify'
import { oidcProvider, fileKeys, generatedKeys } from '../../lib/index.js'
import { signJwt } from '../../lib/tokens/jwt.js'

const log = { warn: () => {}, info: () => {} }
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi']

t.test('generatedKeys: RSA-2048, RS256, thumbprint kid, a warning, loaded once', async (t) => {
  const warnings: string[] = []
  const source = generatedKeys()
  const keys = await source.load({ log: { warn: (m) => warnings.push(m), info: () => {} } })
  t.equal(keys.signingKey.alg, 'RS256')
  t.equal(keys.publicKeys[0]?.kid, await calculateJwkThumbprint(keys.publicKeys[0]!))
  t.equal(warnings.length, 1)
  t.equal(await source.load({ log }), keys, 'the same key on reload')
  const token = await signJwt(keys.signingKey, 'JWT', { hello: 'world' })
  const verified = await compactVerify(token, await importJWK(keys.publicKeys[0]!, 'RS256'))
  t.same(JSON.parse(Buffer.from(verified.payload).toString()), { hello: 'world' })
})

t.test('fileKeys: newest private key signs, the others stay published; JWKS never has private members', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'oidc-keys-'))
  const older = generateKeyPairSync('rsa', { modulusLength: 2048 })
  await writeFile(join(dir, 'a-old.pem'), older.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string)
  await utimes(join(dir, 'a-old.pem'), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000))
  const newer = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = { ...newer.privateKey.export({ format: 'jwk' }), kid: 'given-kid' }
  await writeFile(join(dir, 'b-new.json'), JSON.stringify(jwk))
  const publicOnly = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  await writeFile(join(dir, 'c-retired.pem'), publicOnly.publicKey.export({ format: 'pem', type: 'spki' }) as string)
  await writeFile(join(dir, 'README.md'), 'not a key')

  const keys = await fileKeys({ dir }).load({ log })
  t.equal(keys.signingKey.kid, 'given-kid', 'the newest signs, with its own kid')
  t.equal(keys.publicKeys.length, 3)
  t.same(keys.publicKeys.map((key) => key.alg).sort(), ['ES256', 'RS256', 'RS256'])

  const app = Fastify({ logger: false })
  await app.register(oidcProvider, { issuer: 'http://localhost:3000', keys: fileKeys({ dir }), cookieSecret: 'x'.repeat(32) })
  t.teardown(() => app.close())
  const res = await app.inject('/jwks.json')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /application\/jwk-set\+json/)
  const published = res.json().keys as Array<Record<string, unknown>>
  t.equal(published.length, 3)
  for (const key of published) {
    for (const member of privateMembers) t.notOk(member in key, `no ${member}`)
    t.equal(key.use, 'sig')
    t.ok(key.kid)
    t.ok(key.alg)
  }

  // Rotation: a newer key appears; reloadKeys publishes it and keeps the old kids.
  const rotated = generateKeyPairSync('rsa', { modulusLength: 2048 })
  await writeFile(join(dir, 'd-rotated.pem'), rotated.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string)
  await app.oidc.reloadKeys()
  const after = (await app.inject('/jwks.json')).json().keys as Array<{ kid: string }>
  t.equal(after.length, 4)
  t.ok(after.some((key) => key.kid === 'given-kid'), 'the old kid stays published')
  t.not(app.oidc.publicKeys()[0]?.kid, 'given-kid', 'the new key signs')
})

t.test('fileKeys: generateIfMissing creates one 0600 key, reused by the next load', async (t) => {
  const dir = join(await mkdtemp(join(tmpdir(), 'oidc-keys-')), 'nested')
  const [a, b] = await Promise.all([
    fileKeys({ dir, generateIfMissing: true }).load({ log }),
    fileKeys({ dir, generateIfMissing: true }).load({ log }),
  ])
  t.equal(a.signingKey.kid, b.signingKey.kid, 'two instances starting at once share the key')
  const files = (await readdir(dir)).filter((name) => name.endsWith('.pem'))
  t.equal(files.length, 1)
  t.equal((await stat(join(dir, files[0]!))).mode & 0o777, 0o600)
  const again = await fileKeys({ dir }).load({ log })
  t.equal(again.signingKey.kid, a.signingKey.kid, 'a restart keeps the kid')
})

t.test('fileKeys: clear errors for an empty folder, bad files and weak keys', async (t) => {
  const empty = await mkdtemp(join(tmpdir(), 'oidc-keys-'))
  await t.rejects(fileKeys({ dir: empty }).load({ log }), /no private key/)
  const bad = await mkdtemp(join(tmpdir(), 'oidc-keys-'))
  await writeFile(join(bad, 'broken.pem'), `${'-'.repeat(5)}BEGIN PRIVATE KEY${'-'.repeat(5)}\nnope\n${'-'.repeat(5)}END PRIVATE KEY${'-'.repeat(5)}\n`)
  await t.rejects(fileKeys({ dir: bad }).load({ log }), /cannot read key file/)
  const weak = await mkdtemp(join(tmpdir(), 'oidc-keys-'))
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 })
  await writeFile(join(weak, 'weak.pem'), small.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string)
  await t.rejects(fileKeys({ dir: weak }).load({ log }), /at least 2048/)
  t.throws(() => fileKeys({ dir: '' }), /dir/)
})
