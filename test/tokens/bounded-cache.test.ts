import t from 'tap'
import { BoundedCache } from '../../lib/tokens/bounded-cache.js'

t.test('BoundedCache: computes once per kept key, never keeps a long key, drops everything when full', async (t) => {
  const cache = new BoundedCache<string[]>(3, 8)
  let computed = 0
  const compute = (key: string): string[] => { computed++; return key.split(' ') }
  const first = cache.memo('a b', compute)
  t.equal(cache.memo('a b', compute), first, 'the same value for the same key')
  t.equal(computed, 1, 'computed once')
  const long = 'a b c d e'
  t.not(cache.memo(long, compute), cache.memo(long, compute), 'a key past maxKeyLength is computed every time')
  t.equal(cache.get(long), undefined, 'and never kept')
  cache.memo('c', compute)
  cache.memo('d', compute)
  t.equal(cache.size, 3, 'full')
  cache.set('e', ['e'])
  t.equal(cache.size, 1, 'the next key drops the whole map first')
  t.same(cache.get('e'), ['e'])
  t.equal(cache.get('a b'), undefined, 'earlier keys are gone')
  const unbounded = new BoundedCache<number>(2)
  unbounded.set('x'.repeat(10_000), 1)
  t.equal(unbounded.get('x'.repeat(10_000)), 1, 'no key length bound unless given')
})
