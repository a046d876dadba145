import Type from 'typebox'

/** The static `resourceServers` option (see `ResourceServer`); code checks the rest at startup. */
export const ResourceServerSchema = Type.Object({
  resource: Type.String({ minLength: 1, description: 'RFC 8707 resource indicator: an absolute URI without a fragment.' }),
  name: Type.Optional(Type.String({ maxLength: 200, description: 'Display name on the consent page.' })),
  scopes: Type.Record(Type.String(), Type.String(), { description: 'Accepted scopes, each with its consent-page description.' }),
  accessTokenTtl: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 * 365 * 86400, description: 'Access-token lifetime for this resource (seconds).' })),
  introspection: Type.Optional(Type.Object({
    clientId: Type.String({ minLength: 1 }),
    clientSecret: Type.Optional(Type.String({ minLength: 16, description: 'Plain secret; hashed at startup and never kept.' })),
    clientSecretHash: Type.Optional(Type.String({ minLength: 1, description: 'SHA-256 (base64url) of the secret.' })),
  }, { additionalProperties: false })),
}, { additionalProperties: false })
