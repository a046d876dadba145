-- RFC 8628 device authorizations (DeviceAuthorizationStore): one row per device code, found by
-- the device code's hash (the key) or the user code's hash (unique while the row lives; an
-- expired row is replaced in place by the next INSERT that draws its user code).
CREATE TABLE device_authorizations (
  device_code_hash text PRIMARY KEY,
  user_code_hash text NOT NULL,
  client_id text NOT NULL,
  record jsonb NOT NULL,
  -- pending → approved | denied; approved → consumed (by one poll).
  status text NOT NULL DEFAULT 'pending',
  interval_seconds int NOT NULL,
  last_poll_at timestamptz,
  approval jsonb,
  code_expires_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX device_authorizations_user_code_hash ON device_authorizations (user_code_hash);
CREATE INDEX device_authorizations_expires_at ON device_authorizations (expires_at);
