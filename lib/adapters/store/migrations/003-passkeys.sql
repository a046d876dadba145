-- Passkeys (PasskeyStore, issue 31): one row per WebAuthn credential, public key only. The
-- counter has a column of its own so a sign-in's compare-and-set is one guarded UPDATE.
CREATE TABLE passkeys (
  credential_id text PRIMARY KEY,
  account_id text NOT NULL,
  record jsonb NOT NULL,
  counter bigint NOT NULL
);
CREATE INDEX passkeys_account_id ON passkeys (account_id);
