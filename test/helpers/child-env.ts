/**
 * The environment for a child Node process started by a test (the CLI, the example server or
 * client, README samples), with tap's coverage recording switched off for it: those children
 * load lib/ through tsx, whose source maps differ from the test process's, and merging both
 * garbles the line coverage of lib/ (a file collapses to one line). tap's process tracker
 * re-adds itself to every child, so coverage is turned off with its own switch rather than by
 * removing NODE_OPTIONS. The children's behaviour is asserted through their output; coverage
 * comes from the in-process tests.
 */
export function childEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...extra, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
}
