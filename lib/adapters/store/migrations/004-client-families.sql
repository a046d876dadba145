-- The live refresh families of a client, for revokeClientGrants: a family a token exchange
-- (RFC 8693) started lives under another client's grant, so deleting the exchanging client
-- revokes it by its client_id rather than with a grant of its own.
CREATE INDEX refresh_families_client_id ON refresh_families (client_id) WHERE state = 'a';
