/**
 * The environment for a child Node process started by a test (the CLI, the example server or
 * client, README samples), without tap's coverage collection: those children load lib/ through
 * tsx, whose source maps differ from the test process's, and merging both garbles the line
 * coverage of lib/ (lines counted twice or not at all). Their behaviour is asserted through
 * their output; coverage comes from the in-process tests.
 */
export function childEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra }
  delete env.NODE_V8_COVERAGE
  return env
}
