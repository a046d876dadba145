import t from 'tap'
import { escapeHtml } from '../../lib/index.js'

t.test('escapeHtml leaves no tag and no way out of a quoted attribute', async (t) => {
  const hostile = '<img src=x onerror=alert(1)>"\'&'
  t.equal(escapeHtml(hostile), '&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;')
  t.equal(escapeHtml('Alice & Bob'), 'Alice &amp; Bob')
  t.equal(escapeHtml('plain'), 'plain')
  t.equal(escapeHtml(42), '42')
  t.equal(escapeHtml(undefined), '')
  t.equal(escapeHtml(null), '')
})
