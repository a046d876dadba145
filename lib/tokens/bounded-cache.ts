/**
 * A string-keyed memo of a pure computation that stays bounded whatever its keys: a key longer
 * than `maxKeyLength` is never kept, and the whole map is dropped when it holds `maxEntries`.
 * For hot paths that see few distinct keys (scope strings, client_ids, redirect URIs) but whose
 * keys can come from requests: a flood of new keys costs one recomputation of the hot ones, and
 * no per-entry bookkeeping (as an LRU's) is paid on the usual hit. Values are shared between
 * callers: keep only values nobody changes (frozen, `ReadonlySet`, strings).
 *
 * Lives in tokens/ beside crypto.ts's other small helpers: the lowest layer every user of it
 * (tokens, http, interactions, grants) may import.
 *
 * @example
 * const parsed = new BoundedCache<ReadonlySet<string>>(500, 512)
 * const values = parsed.memo(scope, scopeSet)
 */
export class BoundedCache<V> {
  readonly #entries = new Map<string, V>()
  readonly #maxEntries: number
  readonly #maxKeyLength: number

  constructor (maxEntries: number, maxKeyLength = Number.POSITIVE_INFINITY) {
    this.#maxEntries = maxEntries
    this.#maxKeyLength = maxKeyLength
  }

  get (key: string): V | undefined {
    return this.#entries.get(key)
  }

  /** Keeps `value` for `key` within the bounds (a too long key is not kept). */
  set (key: string, value: V): void {
    if (key.length > this.#maxKeyLength) return
    if (this.#entries.size >= this.#maxEntries) this.#entries.clear()
    this.#entries.set(key, value)
  }

  /** The value kept for `key`, or `compute(key)`, kept within the bounds. */
  memo (key: string, compute: (key: string) => V): V {
    const cached = this.#entries.get(key)
    if (cached !== undefined) return cached
    const value = compute(key)
    this.set(key, value)
    return value
  }

  /** Entries kept now (tests). */
  get size (): number {
    return this.#entries.size
  }
}
