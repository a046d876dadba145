import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'
import type { FetchFailureReason } from '../contracts/outbound.js'

/**
 * The outbound policy's checks that need no connection: which URLs the SSRF-safe fetcher
 * (fetch.ts) will even try, and so which URLs registration may accept for something the
 * provider delivers to later (a `backchannel_logout_uri`). Both call `checkOutboundUrl`, so a
 * client can never be registered for a URI its logout tokens would be refused at (one rule,
 * one place). What needs DNS (a name resolving to a private address) is left to the fetcher.
 */
export interface OutboundPolicy {
  /** https may reach loopback addresses (development only). */
  allowLoopback: boolean
  /** Plain http may reach loopback hosts (development only: an http issuer and its local receivers). */
  allowHttpLoopback: boolean
}

/** Whether an address may be connected to: a global unicast address, or loopback when allowed. */
export function isAllowedAddress (address: string, allowLoopback: boolean): boolean {
  if (!ipaddr.isValid(address)) return false
  const range = ipaddr.process(address).range()
  return range === 'unicast' || (allowLoopback && range === 'loopback')
}

export function isLoopbackAddress (address: string): boolean {
  return ipaddr.isValid(address) && ipaddr.process(address).range() === 'loopback'
}

export type OutboundUrlCheck =
  | { ok: true, url: URL, plainHttp: boolean }
  | { ok: false, reason: FetchFailureReason, message: string }

/**
 * The URL checks done before any connection: absolute, no credentials, https (or http to a
 * loopback name when `allowHttpLoopback`), and an address literal in an allowed range.
 *
 * @example
 * const check = checkOutboundUrl('http://localhost:4000/bc', { allowLoopback: false, allowHttpLoopback: true })
 * // { ok: true, url, plainHttp: true }
 */
export function checkOutboundUrl (raw: string, policy: OutboundPolicy): OutboundUrlCheck {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return { ok: false, reason: 'invalid_url', message: 'not an absolute URL' }
  }
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'invalid_url', message: 'URLs with credentials are not fetched' }
  const host = url.hostname.replace(/^\[|\]$/g, '')
  let plainHttp: boolean
  if (url.protocol === 'https:') {
    plainHttp = false
  } else if (url.protocol === 'http:') {
    const loopbackName = host === 'localhost' || (isIP(host) !== 0 && isLoopbackAddress(host))
    if (!policy.allowHttpLoopback || !loopbackName) return { ok: false, reason: 'not_https', message: `${url.protocol} URLs are not fetched; use https` }
    plainHttp = true
  } else {
    return { ok: false, reason: 'not_https', message: `${url.protocol} URLs are not fetched; use https` }
  }
  // An address literal never goes through the guarded DNS lookup, so it is checked here.
  if (isIP(host) !== 0) {
    const allowed = plainHttp ? isLoopbackAddress(host) : isAllowedAddress(host, policy.allowLoopback)
    if (!allowed) return { ok: false, reason: 'refused_address', message: `${host} is not a public address` }
  }
  return { ok: true, url, plainHttp }
}
