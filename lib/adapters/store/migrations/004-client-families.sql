-- The live refresh families of a client, for revokeClientGrants: a family a token exchange
-- (RFC 8693) started lives under another client's grant, so deleting the exchanging client
-- revokes it by its client_id rather than with a grant of its own.
--
-- Built inside the migration's transaction, so writes to refresh_families wait while it builds.
-- On a large table, build it first without blocking them, under this name, and this migration
-- finds it there (docs/postgresql.md, "Migrations"):
--   CREATE INDEX CONCURRENTLY refresh_families_client_id ON <schema>.refresh_families (client_id) WHERE state = 'a';
CREATE INDEX IF NOT EXISTS refresh_families_client_id ON refresh_families (client_id) WHERE state = 'a';
