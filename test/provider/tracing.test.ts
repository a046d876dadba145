import t from 'tap'
import { AsyncLocalStorage } from 'node:async_hooks'
import { context, ROOT_CONTEXT, trace, type Context, type ContextManager } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import Fastify from 'fastify'
import { MemoryStore, oidcProvider, type AuditRecord } from '../../lib/index.js'
import { testKeys } from '../helpers/keys.js'
import { testUsers } from '../helpers/users.js'
import { CookieJar, runCodeFlow } from '../helpers/flow.js'
import { basic, postForm } from '../helpers/codes.js'

/** The context manager an OpenTelemetry SDK installs (context-async-hooks), in a few lines. */
class StorageContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>()
  active (): Context { return this.#storage.getStore() ?? ROOT_CONTEXT }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>> (ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.apply(thisArg, args))
  }

  bind<T> (_ctx: Context, target: T): T { return target }
  enable (): this { return this }
  disable (): this { this.#storage.disable(); return this }
}

const REDIRECT = 'https://rp.example.com/cb'
const WEB = { client_id: 'web', client_secret: 'web-secret-0123456789abcdef' }

t.test('one authorization-code flow: our spans nest under @fastify/otel\'s, hold no secret; its audit stream holds no token', async (t) => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  context.setGlobalContextManager(new StorageContextManager())
  trace.setGlobalTracerProvider(provider)
  t.teardown(async () => { trace.disable(); context.disable(); await provider.shutdown() })

  const otel = new FastifyOtelInstrumentation()
  otel.setTracerProvider(provider)
  const app = Fastify({ logger: false })
  await app.register(otel.plugin())
  const store = new MemoryStore()
  await app.register(oidcProvider, {
    issuer: 'http://localhost:3000',
    keys: testKeys(),
    cookieSecret: 'x'.repeat(32),
    store,
    users: testUsers,
    clients: [{ ...WEB, redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile offline_access' }],
  })
  await app.ready()
  t.teardown(async () => { await app.close(); await store.close() })
  const audit: AuditRecord[] = []
  app.oidc.onAudit((record) => audit.push(record))

  const jar = new CookieJar()
  const flow = await runCodeFlow(app, { clientId: WEB.client_id, redirectUri: REDIRECT, scope: 'openid profile', jar })
  const res = await postForm(app, '/token', { grant_type: 'authorization_code', code: flow.code ?? '', redirect_uri: REDIRECT, code_verifier: flow.verifier },
    { authorization: basic(WEB.client_id, WEB.client_secret) })
  t.equal(res.statusCode, 200)
  const tokens = res.json() as Record<string, string>
  t.equal((await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokens.access_token ?? ''}` } })).statusCode, 200)

  const spans = exporter.getFinishedSpans()
  const names = new Set(spans.map((span) => span.name))
  for (const name of ['oidc.interaction.login', 'oidc.interaction.consent', 'oidc.interaction.issue-code', 'oidc.store.consumeCode',
    'oidc.store.saveGrant', 'oidc.store.startRefreshFamily', 'oidc.jwt.sign', 'oidc.jwt.verify', 'oidc.store.isAccessTokenRevoked']) {
    t.ok(names.has(name), `span ${name}`)
  }
  const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]))
  const parentOf = (span: ReadableSpan): ReadableSpan | undefined => {
    const id = span.parentSpanContext?.spanId
    return id === undefined ? undefined : byId.get(id)
  }
  const root = (span: ReadableSpan): ReadableSpan => { let at = span; for (let up = parentOf(at); up !== undefined; up = parentOf(at)) at = up; return at }
  const consume = spans.find((span) => span.name === 'oidc.store.consumeCode')
  const signs = spans.filter((span) => span.name === 'oidc.jwt.sign')
  t.ok(consume !== undefined && root(consume).name.startsWith('request'), `the code's consume nests under the HTTP request span (${consume === undefined ? '' : root(consume).name})`)
  t.ok(signs.length >= 2 && signs.every((span) => span.spanContext().traceId === consume?.spanContext().traceId || root(span) !== span), 'signatures nest in request traces')
  t.match(signs[0]?.attributes, { 'oidc.jwt.alg': 'RS256' })
  const stepParent = parentOf(spans.find((span) => span.name === 'oidc.interaction.issue-code') as ReadableSpan)
  t.ok(stepParent !== undefined, 'an interaction step has a parent (the HTTP handler span)')

  const secrets = [flow.code ?? undefined, flow.verifier, tokens.access_token, tokens.refresh_token, tokens.id_token, WEB.client_secret, 'demo', ...jar.cookies.values()]
  const attributeText = JSON.stringify(spans.map((span) => span.attributes))
  for (const secret of secrets) t.notOk(secret !== undefined && secret !== null && attributeText.includes(`"${secret}"`), 'no token, secret, code or username in any attribute')

  t.same(audit.map((record) => record.event), ['login.success', 'consent.granted', 'token.issued'])
  const auditText = JSON.stringify(audit)
  for (const secret of secrets.slice(0, 6)) t.notOk(secret !== undefined && auditText.includes(secret), 'no token in the audit stream')
})
