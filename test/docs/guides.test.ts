import t from 'tap'
import Fastify from 'fastify'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join, normalize } from 'node:path'
import { oidcProvider } from '../../lib/index.js'
import { OptionsSchema } from '../../lib/contracts/options.js'
import { fromRoot, repoRoot } from '../helpers/paths.js'
import { documents, runnable, runSamples, sampleName, samplesOf, type Sample } from '../helpers/doc-samples.js'

/**
 * The README and the guides stay true to each other and to the code: every relative link
 * resolves (to a file, and to a heading when it names one), no page says a feature that exists
 * is missing or on its way, and every host-page sample escapes what it shows of a client, even
 * when the client's metadata is hostile.
 */
t.setTimeout(120_000)

/**
 * Guides other changes write in parallel, named in the README's map before they land. A link to
 * one of these may point nowhere until its change is merged; any other missing target fails.
 * Once all of them exist this list can go.
 */
const pendingGuides = new Set([
  'response-modes.md', 'request-objects.md', 'certification.md', 'resources-and-audiences.md', 'postgresql.md',
  'delegation-and-agents.md', 'devices.md', 'connected-apps.md', 'administration.md', 'audit-events.md', 'tracing.md',
])

/** The prose of a Markdown page: code blocks and inline code removed (their text is not a claim or a link). */
function prose (markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '``')
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug (heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replaceAll(' ', '-')
}

function anchorsOf (markdown: string): Set<string> {
  const withoutCode = markdown.replace(/^```[\s\S]*?^```/gm, '')
  return new Set([...withoutCode.matchAll(/^#{1,6} (.+)$/gm)].map((match) => slug(match[1]!)))
}

t.test('every relative link in the README and the guides resolves', async (t) => {
  let checked = 0
  for (const file of await documents()) {
    const text = await readFile(join(repoRoot, file), 'utf8')
    for (const match of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1]!
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // https:, mailto:
      const [path = '', anchor] = target.split('#')
      const resolved = path === '' ? join(repoRoot, file) : normalize(join(repoRoot, dirname(file), path))
      checked++
      if (!existsSync(resolved)) {
        const pending = dirname(resolved) === join(repoRoot, 'docs') && pendingGuides.has(resolved.slice(join(repoRoot, 'docs').length + 1))
        if (!pending) t.fail(`${file}: ${target} points to nothing`)
        continue
      }
      if (anchor !== undefined && anchor !== '' && resolved.endsWith('.md')) {
        const anchors = anchorsOf(await readFile(resolved, 'utf8'))
        if (!anchors.has(anchor)) t.fail(`${file}: ${target}: no heading #${anchor} there`)
      }
    }
  }
  t.ok(checked > 50, `${checked} relative links checked`)
})

t.test('the README\'s map links every guide', async (t) => {
  const readme = await readFile(fromRoot('README.md'), 'utf8')
  const linked = new Set([...readme.matchAll(/\]\(docs\/([a-z0-9-]+\.md)(#[^)]*)?\)/g)].map((match) => match[1]!))
  const guides = (await documents()).filter((file) => file.startsWith('docs'))
  t.ok(guides.length >= 14, `${guides.length} guides`)
  for (const guide of guides) t.ok(linked.has(guide.slice('docs/'.length)), `README.md links ${guide}`)
  for (const pending of pendingGuides) t.ok(linked.has(pending), `README.md links ${pending} (written by another change)`)
})

/** The members of a TypeBox object schema (or of the object in a union), by name. */
function membersOf (schema: unknown): Record<string, unknown> {
  const node = schema as { properties?: Record<string, unknown>, anyOf?: Array<{ properties?: Record<string, unknown> }> }
  return node.properties ?? node.anyOf?.find((member) => member.properties !== undefined)?.properties ?? {}
}

t.test('the configuration reference names every option', async (t) => {
  const reference = await readFile(fromRoot('docs', 'configuration.md'), 'utf8')
  const options = membersOf(OptionsSchema)
  t.ok(Object.keys(options).length > 30, `${Object.keys(options).length} options`)
  for (const [name, schema] of Object.entries(options)) {
    t.ok(reference.includes(`\`${name}\``) || reference.includes(`\`${name}.`), `docs/configuration.md names \`${name}\``)
    if (name === 'clients') continue // its members have their own table, checked below
    for (const member of Object.keys(membersOf(schema))) {
      t.ok(new RegExp(`\\b${member}\\b`).test(reference), `docs/configuration.md names ${name}.${member}`)
    }
  }
  const clientMembers = membersOf((OptionsSchema.properties.clients as unknown as { items: unknown }).items)
  for (const member of Object.keys(clientMembers)) t.ok(reference.includes(`\`${member}\``), `docs/configuration.md names the static client member \`${member}\``)
})

/** A claim that something is missing, refused by design or still to come. */
const negation = /\b(not supported|unsupported|not implemented|not available|no support|not yet|yet)\b/i
/** Words that only ever describe unfinished work: never in user documentation. */
const unfinished = /\b(being added|coming soon|will be added|to be added|is planned|TODO|TBD)\b/i

interface Feature { name: string, mentions: RegExp }

/** Features that exist in this code base; a page must not say they are missing. */
const features: Feature[] = [
  { name: 'private_key_jwt', mentions: /private_key_jwt|JWT client authentication|client authentication with keys|key-based client authentication|client assertions?\b/i },
  { name: 'DPoP', mentions: /\bDPoP\b/ },
  { name: 'PAR', mentions: /pushed authorization|\bPAR\b/i },
  { name: 'resource indicators', mentions: /resource indicators?|RFC 8707/i },
  { name: 'back-channel logout', mentions: /back-channel logout/i },
  { name: 'offline_access', mentions: /offline_access/ },
  { name: 'Client ID Metadata Documents', mentions: /client ID metadata documents?/i },
  { name: 'EdDSA, ES256, PS256', mentions: /\b(EdDSA|ES256|PS256)\b/ },
]

/** Features whose existence discovery states: whatever lands later is held to the same rule. */
async function discoveredFeatures (): Promise<Feature[]> {
  const app = Fastify()
  await app.register(oidcProvider, { issuer: 'http://localhost:3000', cookieSecret: 'a development secret of at least 32 characters' })
  const metadata = (await app.inject('/.well-known/openid-configuration')).json() as Record<string, unknown>
  await app.close()
  const list = (name: string): unknown[] => Array.isArray(metadata[name]) ? metadata[name] : []
  const found: Feature[] = []
  if (metadata.request_parameter_supported === true) found.push({ name: 'request objects', mentions: /request objects?/i })
  if (list('response_modes_supported').includes('form_post')) found.push({ name: 'form_post', mentions: /form_post|form post/i })
  if (list('grant_types_supported').includes('urn:ietf:params:oauth:grant-type:device_code')) found.push({ name: 'device authorization', mentions: /device (authorization )?(grant|flow)/i })
  if (list('grant_types_supported').includes('urn:ietf:params:oauth:grant-type:token-exchange')) found.push({ name: 'token exchange', mentions: /token exchange/i })
  return found
}

/** The statements of a page: table rows, list items and sentences, code left out. */
function statements (markdown: string): string[] {
  const out: string[] = []
  for (const block of prose(markdown).split(/\n\s*\n/)) {
    for (const part of block.split(/\n(?=\s*[|-] )/)) {
      if (part.trimStart().startsWith('|')) out.push(...part.split('\n'))
      else out.push(...part.replace(/\s*\n\s*/g, ' ').split(/(?<=[.;!?])\s+(?=[A-Z`*[(])/))
    }
  }
  return out.filter((statement) => statement.trim() !== '')
}

/** The statements of `markdown` that say a feature of `known` is missing, or work is unfinished. */
function contradictions (markdown: string, known: readonly Feature[]): string[] {
  const found: string[] = []
  for (const statement of statements(markdown)) {
    if (unfinished.test(statement)) found.push(`unfinished work: ${statement.trim()}`)
    else if (negation.test(statement)) {
      for (const feature of known) if (feature.mentions.test(statement)) found.push(`${feature.name} said to be missing: ${statement.trim()}`)
    }
  }
  return found
}

t.test('no page says an existing feature is missing or coming', async (t) => {
  const known = [...features, ...await discoveredFeatures()]
  // The checker catches what the README used to say (so it can fail).
  const before = [
    '| `token_endpoint_auth_signing_alg` | none: no JWT client authentication yet; `none` never | not published |',
    '',
    'A logout ends the session.',
    'The rule that tokens issued in the session without `offline_access` stop working while those',
    'with it survive is being added (see the changelog).',
  ].join('\n')
  t.equal(contradictions(before, known).length, 2, 'the two old contradictions are caught')
  t.same(contradictions('`client_secret_jwt` is not supported: it needs the secret in clear. `private_key_jwt` works.', known), [], 'a true refusal next to a feature passes')
  for (const file of await documents()) {
    t.same(contradictions(await readFile(join(repoRoot, file), 'utf8'), known), [], `${file} contradicts no feature`)
  }
})

/** What a hostile registration would put into a client's name, and a browser into a hint. */
const hostile = '<img src=x onerror=alert(1)>'
/**
 * The page's tags, attribute values kept whole (quoted values may hold escaped text such as
 * `&lt;img onerror=...&gt;`), judged as a browser would: a tag with an event-handler attribute,
 * a script element, or the hostile value unescaped means something was injected.
 */
const tagPattern = /<([a-z][a-z0-9-]*)((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)\s*\/?>/gi
function injectedTags (page: string): string[] {
  const found: string[] = []
  if (page.includes(hostile)) found.push(hostile)
  for (const tag of page.matchAll(tagPattern)) {
    const attributes = [...tag[2]!.matchAll(/\s+([^\s"'>/=]+)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?/g)].map((match) => match[1]!.toLowerCase())
    if (tag[1]!.toLowerCase() === 'script' || attributes.some((name) => name.startsWith('on'))) found.push(tag[0])
  }
  return found
}

/** A sample that serves a host page (HTML of its own). */
function servesHostPage (sample: Sample): boolean {
  return /text\/html/.test(sample.source)
}

t.test('host-page samples escape every value they put into HTML', async (t) => {
  const samples = (await samplesOf(await documents())).filter(servesHostPage)
  t.ok(samples.length >= 2, `${samples.length} host-page samples`)
  for (const sample of samples) {
    for (const literal of sample.source.matchAll(/`([^`]*)`/g)) {
      if (!/<[a-z/]/i.test(literal[1]!)) continue
      for (const value of literal[1]!.matchAll(/\$\{([^}]*)\}/g)) {
        t.ok(value[1]!.startsWith('escapeHtml('), `${sampleName(sample)}: \${${value[1]!}} is escaped`)
      }
    }
  }
})

/**
 * The sample with hostile metadata on every static client and a hostile `login_hint` on every
 * authorization request, recording every HTML page the app sends; at its end it prints them, and
 * how many showed the hostile value escaped, as one JSON line.
 */
function withHostileClient (source: string): string {
  const record = `
const hostilePages: string[] = []
app.addHook('onSend', async (_request, reply, payload) => {
  if (String(reply.getHeader('content-type') ?? '').startsWith('text/html') && typeof payload === 'string') hostilePages.push(payload)
  return payload
})
`
  const check = `
console.log(JSON.stringify({ pages: hostilePages, escaped: hostilePages.filter((page) => page.includes(${JSON.stringify(hostile.replaceAll('<', '&lt;').replaceAll('>', '&gt;'))})).length }))
`
  // encodeURIComponent leaves `'` alone, and the samples quote their URLs with it.
  const hint = encodeURIComponent(`"'>${hostile}`).replaceAll("'", '%27')
  return source.replace(/^(const app = Fastify\([^)]*\)\n)/m, `$1${record}`)
    .replace(/client_id: '([^']+)',/g, `client_id: '$1', client_name: ${JSON.stringify(hostile)},`)
    .replaceAll('/authorize?', `/authorize?login_hint=${hint}&`) + check
}

t.test('host-page samples with hostile client metadata inject no tag', async (t) => {
  const samples = (await samplesOf(await documents())).filter(servesHostPage)
  const dir = fromRoot('.tap', 'hostile-samples')
  await mkdir(dir, { recursive: true })
  const files: Array<[number, string]> = []
  for (const [index, sample] of samples.entries()) {
    const source = withHostileClient(sample.source)
    t.not(source, sample.source, `${sampleName(sample)} takes the hostile metadata`)
    const file = join(dir, `hostile-${index}.ts`)
    await writeFile(file, runnable(source))
    files.push([index, file])
  }
  let escaped = 0
  for (const outcome of await runSamples(files)) {
    const sample = samples[outcome.index]!
    if (!outcome.ok) {
      t.fail(`${sampleName(sample)} with hostile metadata: ${outcome.error ?? ''}\n${outcome.output}`)
      continue
    }
    const line = outcome.output.split('\n').find((candidate) => candidate.startsWith('{"pages":'))
    const report = JSON.parse(line ?? '{"pages":[],"escaped":0}') as { pages: string[], escaped: number }
    t.ok(report.pages.length > 0, `${sampleName(sample)} served ${report.pages.length} HTML pages`)
    for (const page of report.pages) t.same(injectedTags(page), [], `${sampleName(sample)}: no tag injected into ${page.slice(0, 60)}...`)
    escaped += report.escaped
  }
  // The hostile value reached the pages (escaped), so the check above looked at something.
  t.ok(escaped >= samples.length, `${escaped} pages showed the hostile value, escaped`)
})
