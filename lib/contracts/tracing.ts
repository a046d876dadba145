import { INVALID_SPAN_CONTEXT, ProxyTracerProvider, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api'

/**
 * The provider's OpenTelemetry tracer (issue 30). Through the API's global proxy: until the host
 * registers a tracer provider every span is the API's no-op span, so tracing costs a function
 * call and nothing is recorded. HTTP spans are @fastify/otel's, registered by the host; ours nest
 * under them. Attributes never hold a token, secret, code or username: names, algorithms, hosts,
 * operations and ids that are not credentials only.
 */
export const tracer = trace.getTracer('fastify-oidc-provider')

/** Handed to `work` while tracing is off: records nothing. */
const nonRecording = trace.wrapSpanContext(INVALID_SPAN_CONTEXT)

/**
 * Whether the host has registered a tracer provider (the global one is not the API's no-op).
 * A few property reads: checked on every span, so a provider registered later is honoured.
 */
export function tracingRegistered (): boolean {
  const provider = trace.getTracerProvider()
  const delegate = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider
  return delegate.constructor.name !== 'NoopTracerProvider'
}

/**
 * Runs `work` in an active span named `name` (so spans started inside nest under it), ends the
 * span, and marks it as an error when `work` throws (the error's name only, never its message,
 * which might quote input).
 *
 * @example
 * const jwt = await inSpan('oidc.jwt.sign', { 'oidc.jwt.alg': 'ES256' }, async () => await sign())
 */
export async function inSpan<T> (name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
  // Off: not even the API's no-op span and context switch (about 1 µs a span, measured).
  if (!tracingRegistered()) return await work(nonRecording)
  return await tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work(span)
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' })
      throw error
    } finally {
      span.end()
    }
  })
}
