-- fastify-oidc-provider: the PostgreSQL store's schema, version 1.
--
-- Plain SQL, run with search_path set to the store's schema (the built-in migrator does
-- `SET LOCAL search_path TO <schema>` inside the migration's transaction; another migration
-- tool does the same). Names are unqualified here so the file works for any schema name.
--
-- Every value that is a bearer secret arrives hashed (SHA-256, base64url) from the provider:
-- code_hash, token_hash, client_secret_hash and registration_access_token_hash inside
-- clients.record. Session and interaction ids are random identifiers, as on Redis.
--
-- Every row but a client's has expires_at: reads ignore a row once expires_at <= now(), and the
-- store's sweeper deletes such rows in bounded batches through the expires_at indexes.

-- Registered clients (RFC 7591): the record as the provider keeps it. Never expire.
CREATE TABLE clients (
  client_id text PRIMARY KEY,
  record jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Authorization codes (RFC 6749 §4.1.2), single use: consumed_at marks the tombstone that
-- tells a replay from an unknown code until the code expires.
CREATE TABLE codes (
  code_hash text PRIMARY KEY,
  grant_id text NOT NULL,
  record jsonb NOT NULL,
  consumed boolean NOT NULL DEFAULT false,
  expires_at timestamptz NOT NULL
);
CREATE INDEX codes_expires_at ON codes (expires_at);

-- Refresh tokens issued before token families (read to honour an old token once).
CREATE TABLE refresh_tokens (
  token_hash text PRIMARY KEY,
  grant_id text NOT NULL,
  record jsonb NOT NULL,
  consumed boolean NOT NULL DEFAULT false,
  expires_at timestamptz NOT NULL
);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- Grants: a user's consent to a client, the parent of every code and token issued under it.
-- Deleting the row revokes all of them (grant liveness).
CREATE TABLE grants (
  grant_id text PRIMARY KEY,
  account_id text NOT NULL,
  client_id text NOT NULL,
  record jsonb NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX grants_account_id ON grants (account_id);
CREATE INDEX grants_client_id ON grants (client_id);
CREATE INDEX grants_expires_at ON grants (expires_at);

-- The latest grant of each (account, client) pair: a newer consent replaces the pointer, and
-- the pointer goes with its grant.
CREATE TABLE grant_pairs (
  account_id text NOT NULL,
  client_id text NOT NULL,
  grant_id text NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
  PRIMARY KEY (account_id, client_id)
);
CREATE INDEX grant_pairs_grant_id ON grant_pairs (grant_id);

-- Refresh-token families (RFC 9700 §4.14.2): state 'a' alive or 'r' revoked (also the
-- tombstone of a family revoked before it started), the current token, and the last rotation
-- (previous token, when, the sealed successor and the request scope) for the grace retry.
-- session_id is set only for a non-offline family with refresh tokens: the ones a session's
-- end revokes.
CREATE TABLE refresh_families (
  grant_id text NOT NULL,
  family_id text NOT NULL,
  state char(1) NOT NULL,
  client_id text NOT NULL,
  scope text NOT NULL,
  session_id text,
  record jsonb,
  current_hash text,
  previous_hash text,
  rotated_at timestamptz,
  sealed text,
  rotation_scope text,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (grant_id, family_id)
);
CREATE INDEX refresh_families_session_id ON refresh_families (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX refresh_families_expires_at ON refresh_families (expires_at);

-- The refresh tokens of families; a rotated token stays until it expires, so reuse is detected.
CREATE TABLE refresh_family_tokens (
  grant_id text NOT NULL,
  token_hash text NOT NULL,
  issued_at bigint NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (grant_id, token_hash)
);
CREATE INDEX refresh_family_tokens_expires_at ON refresh_family_tokens (expires_at);

-- Access tokens revoked one by one (RFC 7009): their jti until the token's exp.
CREATE TABLE revoked_jtis (
  jti text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
CREATE INDEX revoked_jtis_expires_at ON revoked_jtis (expires_at);

-- Login sessions (the cookie carries session_id) and the clients each signed into, for
-- back-channel logout.
CREATE TABLE sessions (
  session_id text PRIMARY KEY,
  account_id text NOT NULL,
  record jsonb NOT NULL,
  clients text[] NOT NULL DEFAULT '{}',
  expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_account_id ON sessions (account_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Pending authorization requests between /authorize and the code (also PAR request_uri).
CREATE TABLE interactions (
  interaction_id text PRIMARY KEY,
  record jsonb NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX interactions_expires_at ON interactions (expires_at);

-- One-time values: assertion and DPoP jti, nonces.
CREATE TABLE used_values (
  key text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
CREATE INDEX used_values_expires_at ON used_values (expires_at);

-- Fixed-window counters (login and client-authentication limits).
CREATE TABLE counters (
  key text PRIMARY KEY,
  count integer NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX counters_expires_at ON counters (expires_at);

-- The refresh (RFC 6749 §6, RFC 9700 §4.14.2) as one atomic step, like the Redis store's Lua
-- script: grant and family alive, token known, token of this client, scope granted; then the
-- current token rotates, a token rotated less than the grace window ago is a retry, anything
-- else is reuse and revokes the family. The family row is locked (FOR UPDATE), so of concurrent
-- callers exactly one rotates and the others see its rotation. Times are the database's clock,
-- one clock for every provider instance.
CREATE FUNCTION rotate_refresh_token (
  p_grant_id text,
  p_family_id text,
  p_token_hash text,
  p_client_id text,
  p_scope text,
  p_grace_ms bigint,
  p_successor_hash text,
  p_successor_lifetime bigint,
  p_sealed text,
  OUT status text,
  OUT record jsonb,
  OUT detail text,
  OUT issued_at bigint,
  OUT expires_at bigint,
  OUT grant_expires_at bigint,
  OUT request_scope text
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  f refresh_families%ROWTYPE;
  g_expires timestamptz;
  missing text;
  at timestamptz := clock_timestamp();
BEGIN
  SELECT g.expires_at INTO g_expires FROM grants g WHERE g.grant_id = p_grant_id AND g.expires_at > at;
  IF NOT FOUND THEN status := 'not_found'; RETURN; END IF;
  SELECT * INTO f FROM refresh_families rf
    WHERE rf.grant_id = p_grant_id AND rf.family_id = p_family_id
    FOR UPDATE;
  IF NOT FOUND OR f.state <> 'a' OR f.expires_at <= at THEN status := 'not_found'; RETURN; END IF;
  PERFORM 1 FROM refresh_family_tokens t
    WHERE t.grant_id = p_grant_id AND t.token_hash = p_token_hash AND t.expires_at > at;
  IF NOT FOUND THEN status := 'not_found'; RETURN; END IF;
  IF f.client_id <> p_client_id THEN status := 'wrong_client'; RETURN; END IF;
  IF p_scope IS NOT NULL THEN
    SELECT v INTO missing FROM unnest(string_to_array(p_scope, ' ')) AS v
      WHERE v <> '' AND NOT (v = ANY (string_to_array(f.scope, ' '))) LIMIT 1;
    IF missing IS NOT NULL THEN status := 'invalid_scope'; detail := missing; RETURN; END IF;
  END IF;
  record := f.record;
  IF f.current_hash = p_token_hash THEN
    issued_at := floor(extract(epoch FROM at))::bigint;
    expires_at := least(issued_at + p_successor_lifetime, floor(extract(epoch FROM f.expires_at))::bigint);
    INSERT INTO refresh_family_tokens AS t (grant_id, token_hash, issued_at, expires_at)
      VALUES (p_grant_id, p_successor_hash, issued_at, to_timestamp(expires_at))
      ON CONFLICT (grant_id, token_hash) DO UPDATE SET issued_at = excluded.issued_at, expires_at = excluded.expires_at;
    UPDATE refresh_families rf
      SET current_hash = p_successor_hash, previous_hash = p_token_hash, rotated_at = at,
          sealed = p_sealed, rotation_scope = p_scope
      WHERE rf.grant_id = p_grant_id AND rf.family_id = p_family_id;
    status := 'rotated';
    grant_expires_at := floor(extract(epoch FROM g_expires))::bigint;
    RETURN;
  END IF;
  IF f.previous_hash = p_token_hash AND at < f.rotated_at + p_grace_ms * interval '1 millisecond' THEN
    status := 'retried';
    detail := f.sealed;
    request_scope := f.rotation_scope;
    RETURN;
  END IF;
  UPDATE refresh_families rf SET state = 'r' WHERE rf.grant_id = p_grant_id AND rf.family_id = p_family_id;
  status := 'reused';
  RETURN;
END
$$;
