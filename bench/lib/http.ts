import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http'

export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

/**
 * A minimal HTTP/1.1 client over node:http with keep-alive: the flow benchmarks drive the
 * browser pages and the token endpoint with it, a connection per simulated browser.
 */
export class HttpClient {
  readonly #agent: Agent
  readonly #host: string
  readonly #port: number

  constructor (origin: string, maxSockets: number) {
    const url = new URL(origin)
    this.#host = url.hostname
    this.#port = Number(url.port)
    this.#agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets })
  }

  async request (method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}, body?: string): Promise<HttpResponse> {
    return await new Promise((resolve, reject) => {
      const req = httpRequest({
        host: this.#host,
        port: this.#port,
        method,
        path,
        agent: this.#agent,
        headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end(body)
    })
  }

  close (): void {
    this.#agent.destroy()
  }
}

/** A form body (application/x-www-form-urlencoded) and its content type. */
export function form (fields: Record<string, string>): { body: string, headers: Record<string, string> } {
  return { body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } }
}
