import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyFile } from '../../../lib/index.js'

// Issue 26: the keys CLI (and any generateKeyFile) wrote private keys with no `.gitignore`.
t.test('a folder that receives private keys gets a .gitignore that keeps them out of git', async (t) => {
  const repo = mkdtempSync(join(tmpdir(), 'oidc-keys-git-'))
  t.teardown(() => { rmSync(repo, { recursive: true, force: true }) })
  execFileSync('git', ['init', '-q', repo])
  const dir = join(repo, 'keys')
  const name = await generateKeyFile(dir, 'signing-key.pem', 'ES256')
  t.match(readFileSync(join(dir, '.gitignore'), 'utf8'), /^# Private signing keys .*\n\*\n!\.gitignore\n$/)
  const ignored = execFileSync('git', ['-C', repo, 'check-ignore', `keys/${name}`]).toString().trim()
  t.equal(ignored, `keys/${name}`, 'git ignores the key file')
  t.equal(execFileSync('git', ['-C', repo, 'status', '--porcelain', '--untracked-files=all']).toString(), '?? keys/.gitignore\n', 'only the .gitignore would be committed')

  const own = join(repo, 'own')
  mkdirSync(own)
  writeFileSync(join(own, '.gitignore'), '*.pem\n')
  await generateKeyFile(own, 'other.pem', 'ES256')
  t.equal(readFileSync(join(own, '.gitignore'), 'utf8'), '*.pem\n', 'a host\'s own .gitignore is left alone')
})
