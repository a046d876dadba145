import t, { type Test } from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net'
import { createFetcher } from '../../lib/http/fetch.js'
import { isAllowedAddress } from '../../lib/http/outbound-policy.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

/** A real HTTP server on loopback answering by path. */
async function startHttp (t: Test, routes: Record<string, Handler>): Promise<{ port: number, hits: string[] }> {
  const hits: string[] = []
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`)
    const handler = routes[req.url ?? ''] ?? ((_req, res) => { res.writeHead(404).end() })
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { port: (server.address() as AddressInfo).port, hits }
}

const json = (body: unknown, extra: Record<string, string> = {}): Handler => (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', ...extra }).end(JSON.stringify(body))
}

t.test('special-purpose addresses are refused, global ones allowed', async (t) => {
  for (const address of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '224.0.0.1',
    '0.0.0.0', '255.255.255.255', '240.0.0.1', '::1', '::', 'fe80::1', 'fc00::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', 'not-an-ip']) {
    t.notOk(isAllowedAddress(address, false), `${address} refused`)
  }
  for (const address of ['8.8.8.8', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
    t.ok(isAllowedAddress(address, false), `${address} allowed`)
  }
  t.ok(isAllowedAddress('127.0.0.1', true), 'loopback with allowLoopback')
  t.ok(isAllowedAddress('::1', true))
  t.notOk(isAllowedAddress('10.0.0.1', true), 'private stays refused with allowLoopback')
})

t.test('URL rules: https only, http only to loopback when allowed, no credentials', async (t) => {
  const strict = createFetcher()
  t.teardown(() => strict.close())
  t.match(await strict.getJson('not a url'), { ok: false, reason: 'invalid_url' })
  t.match(await strict.getJson('https://user:pw@example.com/'), { ok: false, reason: 'invalid_url' })
  t.match(await strict.getJson('ftp://example.com/x'), { ok: false, reason: 'not_https' })
  t.match(await strict.getJson('http://example.com/x'), { ok: false, reason: 'not_https' })
  t.match(await strict.getJson('http://127.0.0.1:1/x'), { ok: false, reason: 'not_https' }, 'http loopback needs allowHttpLoopback')
  t.match(await strict.getJson('https://127.0.0.1:1/x'), { ok: false, reason: 'refused_address' }, 'a loopback literal')
  t.match(await strict.getJson('https://[::1]:1/x'), { ok: false, reason: 'refused_address' })
  t.match(await strict.getJson('https://10.0.0.1/x'), { ok: false, reason: 'refused_address' }, 'a private literal')
  t.match(await strict.getJson('https://[::ffff:169.254.169.254]/x'), { ok: false, reason: 'refused_address' }, 'a mapped metadata address')
  t.match(await strict.postForm('https://192.168.0.1/x', new URLSearchParams()), { ok: false, reason: 'refused_address' })

  const dev = createFetcher({ allowHttpLoopback: true })
  t.teardown(() => dev.close())
  t.match(await dev.getJson('http://example.com/x'), { ok: false, reason: 'not_https' }, 'http elsewhere stays refused')
})

t.test('a name that resolves to loopback is refused at connect time unless allowed', async (t) => {
  // A TCP server that speaks no TLS: reaching it proves the address passed the check.
  let connections = 0
  const sockets = new Set<Socket>()
  const server = createTcpServer((socket) => {
    connections++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.end('not tls')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  const { port } = server.address() as AddressInfo

  const strict = createFetcher()
  t.teardown(() => strict.close())
  const refused = await strict.getJson(`https://localhost:${port}/doc.json`)
  t.match(refused, { ok: false, reason: 'refused_address' }, 'localhost resolves to loopback: refused by the lookup')
  t.equal(connections, 0, 'no connection was made')

  const dev = createFetcher({ allowLoopback: true })
  t.teardown(() => dev.close())
  const reached = await dev.getJson(`https://localhost:${port}/doc.json`)
  t.match(reached, { ok: false, reason: 'network' }, 'allowed, then TLS fails: certificates are verified')
  t.equal(connections, 1, 'the loopback server was reached')
})

t.test('getJson over http loopback (development): JSON, redirects, size, time, type, status', async (t) => {
  const big = JSON.stringify({ padding: 'x'.repeat(6000) })
  let slowTimer: NodeJS.Timeout | undefined
  t.teardown(() => clearTimeout(slowTimer))
  const { port, hits } = await startHttp(t, {
    '/doc.json': json({ client_id: 'abc', list: [1, 2] }, { 'cache-control': 'max-age=60' }),
    '/vendor.json': (_req, res) => { res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end('{"keys":[]}') },
    '/redirect': (_req, res) => { res.writeHead(302, { location: '/doc.json' }).end() },
    '/big-declared': json({ padding: 'x'.repeat(6000) }),
    '/big-chunked': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      // No content-length: the limit must hold while streaming.
      for (let i = 0; i < big.length; i += 1000) res.write(big.slice(i, i + 1000))
      res.end()
    },
    '/slow': (_req, res) => { slowTimer = setTimeout(() => json({})(_req, res), 10_000) },
    '/slow-body': (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.write('{"a":') },
    '/html': (_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }).end('<p>hi</p>') },
    '/broken': (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{nope') },
    '/proto': (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"__proto__":{"x":1}}') },
    '/missing': (_req, res) => { res.writeHead(404, { 'content-type': 'application/json' }).end('{}') },
  })
  const fetcher = createFetcher({ allowHttpLoopback: true })
  t.teardown(() => fetcher.close())
  const base = `http://127.0.0.1:${port}`

  const ok = await fetcher.getJson(`${base}/doc.json`)
  t.ok(ok.ok)
  if (ok.ok) {
    t.same(ok.value, { client_id: 'abc', list: [1, 2] })
    t.equal(ok.status, 200)
    t.equal(ok.headers.get('cache-control'), 'max-age=60', 'headers are handed over for caching')
  }
  t.ok((await fetcher.getJson(`http://localhost:${port}/doc.json`)).ok, 'localhost resolves to loopback: allowed for http dev')
  t.match(await fetcher.getJson(`${base}/vendor.json`), { ok: true, value: { keys: [] } }, '+json media types are JSON')

  t.match(await fetcher.getJson(`${base}/redirect`), { ok: false, reason: 'redirect' })
  t.equal(hits.filter((hit) => hit === 'GET /doc.json').length, 2, 'the redirect was not followed')
  t.match(await fetcher.getJson(`${base}/big-declared`), { ok: false, reason: 'too_large' })
  t.match(await fetcher.getJson(`${base}/big-chunked`), { ok: false, reason: 'too_large' }, 'enforced while streaming')
  t.match(await fetcher.getJson(`${base}/big-chunked`, { maxBytes: 10_000 }), { ok: true }, 'the limit is configurable')
  t.match(await fetcher.getJson(`${base}/html`), { ok: false, reason: 'not_json' })
  t.match(await fetcher.getJson(`${base}/broken`), { ok: false, reason: 'not_json' })
  t.match(await fetcher.getJson(`${base}/proto`), { ok: false, reason: 'not_json' }, 'prototype pollution keys are refused')
  t.match(await fetcher.getJson(`${base}/missing`), { ok: false, reason: 'bad_status', message: /404/ })

  // Bounds far above the 300 ms timeout (a loaded machine stalls), far below the 10 s answer.
  let started = Date.now()
  t.match(await fetcher.getJson(`${base}/slow`, { timeoutMs: 300 }), { ok: false, reason: 'timeout' })
  t.ok(Date.now() - started < 8000, 'gave up near the timeout, not when the server answered')
  started = Date.now()
  t.match(await fetcher.getJson(`${base}/slow-body`, { timeoutMs: 300 }), { ok: false, reason: 'timeout' }, 'the timeout covers the body')
  t.ok(Date.now() - started < 8000)

  const closed = await fetcher.getJson('http://127.0.0.1:1/nothing-listens')
  t.match(closed, { ok: false, reason: 'network' })
})

t.test('postForm sends the form and reports the status', async (t) => {
  const bodies: string[] = []
  const collect = (status: number): Handler => (req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => { bodies.push(`${req.headers['content-type']} ${body}`); res.writeHead(status).end('ignored body') })
  }
  const { port } = await startHttp(t, {
    '/ok': collect(200),
    '/no-content': collect(204),
    '/fails': collect(400),
    '/moved': (_req, res) => { res.writeHead(307, { location: '/ok' }).end() },
    '/hang': () => {},
  })
  const fetcher = createFetcher({ allowHttpLoopback: true })
  t.teardown(() => fetcher.close())
  const base = `http://127.0.0.1:${port}`
  t.match(await fetcher.postForm(`${base}/ok`, new URLSearchParams({ logout_token: 'a.b.c' })), { ok: true, status: 200, value: undefined })
  t.same(bodies, ['application/x-www-form-urlencoded logout_token=a.b.c'])
  t.match(await fetcher.postForm(`${base}/no-content`, new URLSearchParams()), { ok: true, status: 204 })
  t.match(await fetcher.postForm(`${base}/fails`, new URLSearchParams()), { ok: false, reason: 'bad_status' })
  t.match(await fetcher.postForm(`${base}/moved`, new URLSearchParams()), { ok: false, reason: 'redirect' })
  t.equal(bodies.length, 3, 'the redirect was not followed')
  const started = Date.now()
  t.match(await fetcher.postForm(`${base}/hang`, new URLSearchParams(), { timeoutMs: 300 }), { ok: false, reason: 'timeout' })
  t.ok(Date.now() - started < 8000, 'the hanging receiver is given up on')
})
