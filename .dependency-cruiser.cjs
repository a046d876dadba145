// The layers of lib/ and the imports between them, checked by dependency-cruiser on
// `npm run lint` (and by test/lint/layers.test.ts against small fixture trees, with this very
// file). Paths are relative to the directory the cruise runs from (the repository's root, or a
// fixture's), so every pattern is anchored on `^lib/`. CONTRIBUTING.md ("Layers and the lint")
// says what to do when a rule fails: move the code, never add an exception here.

// lib/'s folders, lowest first. A folder may import folders of a lower or the same layer only;
// `only` narrows that further. One table, so the order is read in one place and changed in one
// place; the `layer-order:<folder>` rules below are generated from it. A strict order is also
// what makes a cycle between two folders impossible (no-folder-cycles checks that directly too).
const layers = [
  { folder: 'contracts', layer: 0 },
  { folder: 'tokens', layer: 1 },
  { folder: 'http', layer: 2 },
  { folder: 'adapters', layer: 3 },
  // Resource servers authenticate with the clients' credential rules (RFC 7662 §2.1), so
  // resources/ sits above clients/; clients/ never needs a resource.
  { folder: 'clients', layer: 4 },
  // Trusted issuers and the one validator of their JWTs (issue 28): beside clients, whose
  // jwks_uri cache and single-use assertion ids it reuses; clients/ never imports trust/.
  { folder: 'trust', layer: 4 },
  { folder: 'resources', layer: 5 },
  { folder: 'sessions', layer: 6 },
  { folder: 'interactions', layer: 7 },
  { folder: 'grants', layer: 8 },
  { folder: 'routes', layer: 9 },
  { folder: 'provider', layer: 10 },
  { folder: 'resource-server', layer: 10 },
  // The admin plugin (issue 30): client administration over HTTP, behind the resource server.
  { folder: 'admin', layer: 10 },
  // The keys CLI generates and lists keys: it needs the key contracts, the crypto helpers and the
  // key adapters, not the provider.
  { folder: 'cli', layer: 11, only: ['contracts', 'tokens', 'adapters'] },
]

// Folders whose own named rule below already says all their layer rule would say, and more:
// generating `layer-order:<folder>` for them too would report every import twice.
const narrowedByNamedRule = {
  contracts: 'contracts-import-nothing',
  'resource-server': 'resource-server-imports-contracts-and-tokens',
}

/** `^lib/(a|b)/`: any file inside one of the folders. */
const inside = (folders) => `^lib/(${folders.join('|')})/`

const known = layers.map(({ folder }) => folder)

const layerRules = layers
  .filter(({ folder }) => !(folder in narrowedByNamedRule))
  .map(({ folder, layer, only }) => {
    const allowed = only
      ? [...only, folder]
      : layers.filter((other) => other.layer <= layer).map((other) => other.folder)
    return {
      name: `layer-order:${folder}`,
      comment: `lib/${folder}/ is layer ${layer}${only ? ' (narrowed)' : ''}: it may import only ${allowed.map((f) => `lib/${f}/`).join(', ')}. ` +
        'Importing a higher layer (or lib/index.ts, or a folder missing from the layer table) ties a low concern to one that depends on it and opens the way to cycles between folders: ' +
        'move the shared type into lib/contracts/, or the code into the layer that owns it.',
      severity: 'error',
      from: { path: inside([folder]) },
      to: { path: '^lib/', pathNot: inside(allowed) },
    }
  })

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle between modules, type-only imports included (tsPreCompilationDeps), means neither side can be understood, tested or moved without the other, and ' +
        'an import cycle of values can leave a binding undefined at load time. Break it by moving what both need into the lower module, or the shared type into lib/contracts/.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    {
      name: 'no-folder-cycles',
      comment: 'Two folders that import each other, even through different files and with no module-level cycle, are one concern in two places. ' +
        'Folder-level cycle detection of dependency-cruiser (scope: folder); the layer order makes such a cycle impossible too, this rule names it directly.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^lib/' },
      to: { path: '^lib/', circular: true },
    },
    {
      name: 'contracts-import-nothing',
      comment: 'lib/contracts/ holds the types every concern shares. If it imported a concern, every concern would depend on that one, and a type declared in an implementation file ' +
        'is exactly how cycles came in. Declare the type in lib/contracts/ and let the implementation import it.',
      severity: 'error',
      from: { path: '^lib/contracts/' },
      to: { path: '^lib/', pathNot: '^lib/contracts/' },
    },
    {
      name: 'adapters-stay-low',
      comment: 'Stores, key sources and user adapters are used by the protocol code and swapped by hosts; they must not know about routes, the plugin, interactions or grants. ' +
        'Kept as its own rule (besides layer-order:adapters) so it holds whatever order the layer table takes.',
      severity: 'error',
      from: { path: '^lib/adapters/' },
      to: { path: inside(['routes', 'provider', 'interactions', 'grants']) },
    },
    {
      name: 'resource-server-imports-contracts-and-tokens',
      comment: 'fastify-oidc-provider/resource-server is a second plugin for APIs that only verify tokens: it must stay small and must not pull the provider, ' +
        'its routes or its stores into an API server. It may import lib/contracts/, lib/tokens/ and itself.',
      severity: 'error',
      from: { path: '^lib/resource-server/' },
      to: { path: '^lib/', pathNot: inside(['contracts', 'tokens', 'resource-server']) },
    },
    {
      name: 'only-index-imports-provider',
      comment: 'lib/provider/ is the plugin, the top of the stack: anything else importing it depends on everything. Only the public entry point lib/index.ts exports it.',
      severity: 'error',
      from: { path: '^lib/', pathNot: '^lib/(index\\.ts$|provider/)' },
      to: { path: '^lib/provider/' },
    },
    {
      name: 'routes-only-from-provider',
      comment: 'Routes are thin HTTP adapters that the plugin registers. Nothing else has a reason to import one: the protocol logic they call lives in the layers below.',
      severity: 'error',
      from: { path: '^lib/', pathNot: inside(['provider', 'routes']) },
      to: { path: '^lib/routes/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve to a file is either a bug or an import this check cannot see through; either way the rules above would miss what it imports.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'layer-table-lists-every-folder',
      comment: 'A file in a folder that the layer table above does not list (or at lib/ root, besides index.ts) has no layer rule: add the folder to the table.',
      severity: 'error',
      from: { path: '^lib/', pathNot: `${inside(known)}|^lib/index\\.ts$` },
      to: {},
    },
    ...layerRules,
  ],
  options: {
    // Only lib/ is checked (the command line names it); what it imports from packages is not
    // followed or reported.
    doNotFollow: { path: '(^|/)node_modules/' },
    exclude: { path: '(^|/)node_modules/' },
    // `import type` counts: a type-only cycle is still a cycle between concerns.
    tsPreCompilationDeps: true,
    // No tsConfig: lib/ imports relative paths only, and dependency-cruiser resolves NodeNext's
    // `./x.js` to `./x.ts` by itself. A path alias would fail not-to-unresolvable, not go unseen.
    // NodeNext: packages resolve through their "exports" with the import condition.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
}
