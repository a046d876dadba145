/** The part of autocannon's programmatic API the bench uses (the package ships no types). */
declare module 'autocannon' {
  interface Options {
    url: string
    connections?: number
    duration?: number
    method?: 'GET' | 'POST'
    headers?: Record<string, string>
    body?: string
    verifyBody?: (body: string) => boolean
  }
  interface Histogram { average: number, mean: number, p50: number, p99: number, total: number }
  interface Result {
    duration: number
    errors: number
    timeouts: number
    mismatches: number
    non2xx: number
    '2xx': number
    latency: Histogram
    requests: Histogram & { sent: number }
  }
  function autocannon (options: Options): Promise<Result>
  export default autocannon
}
