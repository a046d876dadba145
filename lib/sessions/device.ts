/*
 * The device line of the account page's session list ("Firefox on Linux"), from the User-Agent
 * the browser sent when it signed in. A hint for the user, not an identification: a User-Agent
 * is whatever the client says. Kept as plain text; the page escapes it like every other value.
 */

/** Longest summary kept (a User-Agent nothing here recognises is cut to this). */
const maxLength = 80

/** Most specific first: Edge and Opera also say "Chrome", Chrome also says "Safari". */
const browsers: ReadonlyArray<[RegExp, string]> = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\b(?:OPR|Opera)\//, 'Opera'],
  [/\b(?:Firefox|FxiOS)\//, 'Firefox'],
  [/\b(?:Chrome|CriOS|HeadlessChrome|Chromium)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
]

const systems: ReadonlyArray<[RegExp, string]> = [
  [/\bWindows\b/, 'Windows'],
  [/\bAndroid\b/, 'Android'],
  [/\b(?:iPhone|iPod)\b/, 'iOS'],
  [/\biPad\b/, 'iPadOS'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
]

/**
 * "Browser on system" when the User-Agent names them, else the User-Agent itself (printable
 * characters only, at most 80), else undefined.
 *
 * @example
 * deviceSummary('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0') // 'Firefox on Linux'
 */
export function deviceSummary (userAgent: string | undefined): string | undefined {
  if (userAgent === undefined) return undefined
  const agent = userAgent.slice(0, 1024)
  const browser = browsers.find(([pattern]) => pattern.test(agent))?.[1]
  const system = systems.find(([pattern]) => pattern.test(agent))?.[1]
  if (browser !== undefined && system !== undefined) return `${browser} on ${system}`
  if (browser !== undefined || system !== undefined) return browser ?? system
  // eslint-disable-next-line no-control-regex
  const printable = agent.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim().slice(0, maxLength)
  return printable === '' ? undefined : printable
}
