// neostandard: the style Fastify's own plugins use (standard, with TypeScript support).
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist', 'dist-examples', '.test-build', 'reports', '.tap', 'coverage', 'node_modules', 'docs/api'],
  }),
  {
    rules: {
      // Wire names are spelled as the RFCs spell them (client_id, grant_types, error_description),
      // in locals too, so a variable and the parameter it holds read the same.
      camelcase: 'off',
    },
  },
]
