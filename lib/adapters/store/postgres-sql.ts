/**
 * The PostgreSQL store's statements, one per store operation, each schema-qualified (the store
 * never relies on the connection's search_path, which belongs to the host). They are built once
 * per store and sent as named prepared statements, so PostgreSQL parses and plans each once per
 * connection.
 *
 * Conventions: `now()` is the statement's start (autocommit: one statement, one transaction),
 * so every test of `expires_at > now()` in one statement agrees; a row whose `expires_at` has
 * passed is invisible to every read at once, whether or not the sweeper has deleted it yet.
 * Epoch-second parameters are `float8` (`to_timestamp`), counts come back as `int`.
 */

/** `"name"` with embedded quotes doubled: a schema name is never spliced in unquoted. */
export function quoteIdentifier (name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** The tables the sweeper empties of expired rows (every table but `clients` and `grant_pairs`). */
export const expiringTables = [
  'codes', 'refresh_tokens', 'grants', 'refresh_families', 'refresh_family_tokens',
  'revoked_jtis', 'sessions', 'interactions', 'used_values', 'counters', 'device_authorizations',
] as const

export type StatementName = keyof ReturnType<typeof statements>

/** Every statement of the store, for the schema `s` (already quoted). */
export function statements (s: string) {
  return {
    ping: 'SELECT 1',

    // clients -----------------------------------------------------------------------------------
    getClient: `SELECT record FROM ${s}.clients WHERE client_id = $1`,
    saveClient: `INSERT INTO ${s}.clients AS c (client_id, record) VALUES ($1, $2::jsonb)
      ON CONFLICT (client_id) DO UPDATE SET record = excluded.record, updated_at = now()`,
    deleteClient: `DELETE FROM ${s}.clients WHERE client_id = $1`,
    // The row lock orders it with a concurrent DELETE: after the delete, no row matches.
    updateClientIfExists: `UPDATE ${s}.clients SET record = $2::jsonb, updated_at = now() WHERE client_id = $1`,

    // One page more than asked, so the store knows whether a next page exists.
    listClients: `SELECT client_id, record FROM ${s}.clients
      WHERE $1::text IS NULL OR client_id > $1 ORDER BY client_id LIMIT $2::int + 1`,

    // codes: RFC 6749 §4.1.2 --------------------------------------------------------------------
    saveCode: `INSERT INTO ${s}.codes AS c (code_hash, grant_id, record, consumed, expires_at)
      VALUES ($1, $2, $3::jsonb, false, to_timestamp($4::float8))
      ON CONFLICT (code_hash) DO UPDATE SET grant_id = excluded.grant_id, record = excluded.record,
        consumed = false, expires_at = excluded.expires_at`,
    // The UPDATE is the decision: concurrent callers queue on the row lock and re-check
    // `NOT consumed` on the row as the winner left it, so exactly one gets the record. The
    // SELECT tells a tombstone (row, no record) from an unknown code (no row).
    // markUsed, then saveCode only when the mark is fresh: one statement (issue 32).
    saveCodeOnce: `WITH fresh AS (
        INSERT INTO ${s}.used_values AS u (key, expires_at) VALUES ($5, to_timestamp($6::float8))
        ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE u.expires_at <= now()
        RETURNING 1
      ), saved AS (
        INSERT INTO ${s}.codes AS c (code_hash, grant_id, record, consumed, expires_at)
        SELECT $1, $2, $3::jsonb, false, to_timestamp($4::float8) FROM fresh
        ON CONFLICT (code_hash) DO UPDATE SET grant_id = excluded.grant_id, record = excluded.record,
          consumed = false, expires_at = excluded.expires_at
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM saved)::int AS saved`,
    // The winner also gets the code's grant as this statement sees it (issue 32: one statement
    // per code exchange instead of two; `grant_record` NULL: the grant is gone).
    consumeCode: `WITH won AS (
        UPDATE ${s}.codes SET consumed = true
        WHERE code_hash = $1 AND NOT consumed AND expires_at > now()
        RETURNING record, grant_id
      )
      SELECT (SELECT record FROM won) AS record, c.grant_id,
        (SELECT g.record FROM won JOIN ${s}.grants g ON g.grant_id = won.grant_id AND g.expires_at > now()) AS grant_record
      FROM ${s}.codes c WHERE c.code_hash = $1 AND c.expires_at > now()`,

    // refresh tokens from before families ------------------------------------------------------
    saveRefreshToken: `INSERT INTO ${s}.refresh_tokens AS r (token_hash, grant_id, record, consumed, expires_at)
      VALUES ($1, $2, $3::jsonb, false, to_timestamp($4::float8))
      ON CONFLICT (token_hash) DO UPDATE SET grant_id = excluded.grant_id, record = excluded.record,
        consumed = false, expires_at = excluded.expires_at`,
    findRefreshToken: `SELECT record, consumed FROM ${s}.refresh_tokens WHERE token_hash = $1 AND expires_at > now()`,
    // As consumeCode; the replacement is inserted only by the winner, in the same statement.
    consumeRefreshToken: `WITH won AS (
        UPDATE ${s}.refresh_tokens SET consumed = true
        WHERE token_hash = $1 AND NOT consumed AND expires_at > now()
        RETURNING record
      ), replacement AS (
        INSERT INTO ${s}.refresh_tokens AS r (token_hash, grant_id, record, consumed, expires_at)
        SELECT $2, $3, $4::jsonb, false, to_timestamp($5::float8) FROM won WHERE $2::text IS NOT NULL
        ON CONFLICT (token_hash) DO UPDATE SET grant_id = excluded.grant_id, record = excluded.record,
          consumed = false, expires_at = excluded.expires_at
      )
      SELECT (SELECT record FROM won) AS record, grant_id FROM ${s}.refresh_tokens
      WHERE token_hash = $1 AND expires_at > now()`,

    // grants ------------------------------------------------------------------------------------
    // The grant and its (account, client) pointer in one statement.
    saveGrant: `WITH g AS (
        INSERT INTO ${s}.grants AS g (grant_id, account_id, client_id, record, expires_at)
        VALUES ($1, $2, $3, $4::jsonb, to_timestamp($5::float8))
        ON CONFLICT (grant_id) DO UPDATE SET account_id = excluded.account_id, client_id = excluded.client_id,
          record = excluded.record, expires_at = excluded.expires_at
        RETURNING grant_id
      )
      INSERT INTO ${s}.grant_pairs AS p (account_id, client_id, grant_id) SELECT $2, $3, grant_id FROM g
      ON CONFLICT (account_id, client_id) DO UPDATE SET grant_id = excluded.grant_id`,
    getGrant: `SELECT record FROM ${s}.grants WHERE grant_id = $1 AND expires_at > now()`,
    findGrant: `SELECT g.record FROM ${s}.grant_pairs p
      JOIN ${s}.grants g ON g.grant_id = p.grant_id AND g.account_id = $1 AND g.client_id = $2
      WHERE p.account_id = $1 AND p.client_id = $2 AND g.expires_at > now()`,
    // One DELETE decides (one of concurrent revocations sees the row); the pointer cascades.
    revokeGrant: `WITH d AS (DELETE FROM ${s}.grants WHERE grant_id = $1 RETURNING expires_at)
      SELECT count(*) FILTER (WHERE expires_at > now())::int AS n FROM d`,
    revokeAccountGrants: `WITH d AS (DELETE FROM ${s}.grants WHERE account_id = $1 RETURNING expires_at)
      SELECT count(*) FILTER (WHERE expires_at > now())::int AS n FROM d`,
    // The client's grants, and its families under other clients' grants (a token exchange's,
    // RFC 8693), which no grant of its own takes along: by refresh_families_client_id (004).
    revokeClientGrants: `WITH f AS (
        UPDATE ${s}.refresh_families SET state = 'r', session_id = NULL
        WHERE client_id = $1 AND state = 'a' AND expires_at > now()
      ), d AS (DELETE FROM ${s}.grants WHERE client_id = $1 RETURNING expires_at)
      SELECT count(*) FILTER (WHERE expires_at > now())::int AS n FROM d`,
    extendGrant: `UPDATE ${s}.grants
      SET expires_at = greatest(expires_at, to_timestamp($2::bigint)),
        record = jsonb_set(record, '{expiresAt}', to_jsonb(greatest((record->>'expiresAt')::bigint, $2::bigint)))
      WHERE grant_id = $1 AND expires_at > now()
      RETURNING 1 AS live`,

    // refresh-token families: RFC 9700 §4.14.2 ----------------------------------------------------
    // Never overwrites a family or its tombstone while it lives; an expired one is replaced.
    startRefreshFamily: `WITH f AS (
        INSERT INTO ${s}.refresh_families AS f
          (grant_id, family_id, state, client_id, scope, session_id, record, current_hash, expires_at)
        VALUES ($1, $2, 'a', $3, $4, $5, $6::jsonb, $7, to_timestamp($8::float8))
        ON CONFLICT (grant_id, family_id) DO UPDATE SET state = 'a', client_id = excluded.client_id,
          scope = excluded.scope, session_id = excluded.session_id, record = excluded.record,
          current_hash = excluded.current_hash, previous_hash = NULL, rotated_at = NULL, sealed = NULL,
          rotation_scope = NULL, expires_at = excluded.expires_at
        WHERE f.expires_at <= now()
        RETURNING 1
      ), first AS (
        INSERT INTO ${s}.refresh_family_tokens AS t (grant_id, token_hash, issued_at, expires_at)
        SELECT $1, $7, $9, to_timestamp($10::float8) FROM f WHERE $7::text IS NOT NULL
        ON CONFLICT (grant_id, token_hash) DO UPDATE SET issued_at = excluded.issued_at, expires_at = excluded.expires_at
      )
      SELECT count(*)::int AS n FROM f`,
    rotateRefreshToken: `SELECT status, record, detail, issued_at::float8 AS issued_at, expires_at::float8 AS expires_at,
        grant_expires_at::float8 AS grant_expires_at, request_scope
      FROM ${s}.rotate_refresh_token($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    findFamilyRefreshToken: `SELECT f.record, t.issued_at::float8 AS issued_at, extract(epoch FROM t.expires_at)::float8 AS expires_at
      FROM ${s}.refresh_families f
      JOIN ${s}.grants g ON g.grant_id = f.grant_id AND g.expires_at > now()
      JOIN ${s}.refresh_family_tokens t ON t.grant_id = f.grant_id AND t.token_hash = $3 AND t.expires_at > now()
      WHERE f.grant_id = $1 AND f.family_id = $2 AND f.state = 'a' AND f.expires_at > now() AND f.current_hash = $3`,
    // A live family is revoked (its record stays: `revoked` is true); a missing or expired one
    // becomes a tombstone until $3 (no record), so a racing start cannot bring it to life.
    revokeRefreshFamily: `INSERT INTO ${s}.refresh_families AS f (grant_id, family_id, state, client_id, scope, expires_at)
      VALUES ($1, $2, 'r', '', '', to_timestamp($3::float8))
      ON CONFLICT (grant_id, family_id) DO UPDATE SET state = 'r',
        record = CASE WHEN f.expires_at <= now() THEN NULL ELSE f.record END,
        current_hash = CASE WHEN f.expires_at <= now() THEN NULL ELSE f.current_hash END,
        session_id = NULL,
        expires_at = CASE WHEN f.expires_at <= now() THEN excluded.expires_at ELSE f.expires_at END
      WHERE f.state = 'a' OR f.expires_at <= now()
      RETURNING record IS NOT NULL AS revoked`,
    revokeSessionFamilies: `WITH r AS (
        UPDATE ${s}.refresh_families SET state = 'r', session_id = NULL
        WHERE session_id = $1 AND state = 'a' AND expires_at > now()
        RETURNING 1
      )
      SELECT count(*)::int AS n FROM r`,

    // access tokens: RFC 7009 §2 ------------------------------------------------------------------
    revokeAccessToken: `INSERT INTO ${s}.revoked_jtis AS j (jti, expires_at) VALUES ($1, to_timestamp($2::float8))
      ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at`,
    isAccessTokenRevoked: `SELECT EXISTS (SELECT 1 FROM ${s}.revoked_jtis WHERE jti = $1 AND expires_at > now())
      OR ($2::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${s}.grants WHERE grant_id = $2 AND expires_at > now()))
      OR ($3::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${s}.refresh_families
        WHERE grant_id = $2 AND family_id = $3 AND state = 'a' AND expires_at > now())) AS revoked`,

    // sessions ----------------------------------------------------------------------------------
    // Replacing a live session keeps the clients it signed into (as memory and Redis do).
    saveSession: `INSERT INTO ${s}.sessions AS x (session_id, account_id, record, expires_at)
      VALUES ($1, $2, $3::jsonb, to_timestamp($4::float8))
      ON CONFLICT (session_id) DO UPDATE SET account_id = excluded.account_id, record = excluded.record,
        clients = CASE WHEN x.expires_at <= now() THEN '{}' ELSE x.clients END, expires_at = excluded.expires_at`,
    getSession: `SELECT record, clients FROM ${s}.sessions WHERE session_id = $1 AND expires_at > now()`,
    // getSession, and findGrant for its account and the client $2 (issue 32: one statement per SSO authorization).
    getSessionWithGrant: `SELECT s.record, s.clients, (SELECT g.record FROM ${s}.grant_pairs p
        JOIN ${s}.grants g ON g.grant_id = p.grant_id AND g.account_id = s.account_id AND g.client_id = $2
        WHERE p.account_id = s.account_id AND p.client_id = $2 AND g.expires_at > now()) AS grant_record
      FROM ${s}.sessions s WHERE s.session_id = $1 AND s.expires_at > now()`,
    // getClient($2) and getSessionWithGrant($1, $2) in one row (issue 32: a signed-in browser's
    // authorization reads the three together); record is NULL when there is no live session.
    getClientWithSession: `SELECT (SELECT record FROM ${s}.clients WHERE client_id = $2) AS client, x.record, x.clients, x.grant_record
      FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT s.record, s.clients, (SELECT g.record FROM ${s}.grant_pairs p
          JOIN ${s}.grants g ON g.grant_id = p.grant_id AND g.account_id = s.account_id AND g.client_id = $2
          WHERE p.account_id = s.account_id AND p.client_id = $2 AND g.expires_at > now()) AS grant_record
        FROM ${s}.sessions s WHERE s.session_id = $1 AND s.expires_at > now()) AS x ON true`,
    deleteSession: `DELETE FROM ${s}.sessions WHERE session_id = $1`,
    deleteAccountSessions: `WITH d AS (
        DELETE FROM ${s}.sessions WHERE account_id = $1 RETURNING session_id, expires_at
      ), r AS (
        UPDATE ${s}.refresh_families SET state = 'r', session_id = NULL
        WHERE session_id IN (SELECT session_id FROM d WHERE expires_at > now()) AND state = 'a' AND expires_at > now()
      )
      SELECT count(*) FILTER (WHERE expires_at > now())::int AS n FROM d`,
    addSessionClient: `UPDATE ${s}.sessions
      SET clients = CASE WHEN $2 = ANY (clients) THEN clients ELSE array_append(clients, $2::text) END
      WHERE session_id = $1 AND expires_at > now()
      RETURNING 1 AS live`,
    takeSession: `DELETE FROM ${s}.sessions WHERE session_id = $1 RETURNING record, clients, expires_at > now() AS live`,
    takeAccountSessions: `DELETE FROM ${s}.sessions WHERE account_id = $1 RETURNING record, clients, expires_at > now() AS live`,
    // The account page: the account's live sessions by the sessions_account_id index (001).
    listAccountSessions: `SELECT record FROM ${s}.sessions WHERE account_id = $1 AND expires_at > now()`,
    // Inside the record (jsonb), so no column is needed; a session ended meanwhile is not touched.
    touchSession: `UPDATE ${s}.sessions SET record = jsonb_set(record, '{lastSeenAt}', to_jsonb($2::bigint))
      WHERE session_id = $1 AND expires_at > now()
      RETURNING 1 AS live`,

    // interactions ------------------------------------------------------------------------------
    saveInteraction: `INSERT INTO ${s}.interactions AS i (interaction_id, record, expires_at)
      VALUES ($1, $2::jsonb, to_timestamp($3::float8))
      ON CONFLICT (interaction_id) DO UPDATE SET record = excluded.record, expires_at = excluded.expires_at`,
    getInteraction: `SELECT record FROM ${s}.interactions WHERE interaction_id = $1 AND expires_at > now()`,
    // DELETE … RETURNING: one of concurrent callers gets the row.
    consumeInteraction: `DELETE FROM ${s}.interactions WHERE interaction_id = $1 RETURNING record, expires_at > now() AS live`,

    // replay and counters -----------------------------------------------------------------------
    // Inserted, or an expired value taken over: one of concurrent callers gets a row back.
    // connected apps: an account's live grants (the account_id index), each with its live
    // families as JSON, one page (plus one row to tell whether another page exists).
    listAccountGrants: `SELECT g.grant_id, g.record,
        COALESCE((SELECT jsonb_agg(jsonb_build_object('familyId', f.family_id, 'record', f.record,
            'rotatedAt', floor(extract(epoch FROM f.rotated_at))) ORDER BY f.family_id)
          FROM ${s}.refresh_families f
          WHERE f.grant_id = g.grant_id AND f.state = 'a' AND f.record IS NOT NULL AND f.expires_at > now()), '[]'::jsonb) AS families
      FROM ${s}.grants g
      WHERE g.account_id = $1 AND g.expires_at > now() AND ($2::text IS NULL OR g.grant_id > $2)
      ORDER BY g.grant_id LIMIT $3::int + 1`,

    // passkeys (PasskeyStore, issue 31): never expire; the counter column is the compare-and-set.
    createPasskey: `INSERT INTO ${s}.passkeys (credential_id, account_id, record, counter)
      VALUES ($1, $2, $3::jsonb, $4::bigint) ON CONFLICT (credential_id) DO NOTHING RETURNING 1 AS created`,
    findPasskey: `SELECT record FROM ${s}.passkeys WHERE credential_id = $1`,
    listPasskeys: `SELECT record FROM ${s}.passkeys WHERE account_id = $1
      ORDER BY (record->>'createdAt')::float8, credential_id`,
    recordPasskeyUse: `UPDATE ${s}.passkeys SET counter = $3::bigint,
        record = record || jsonb_build_object('counter', $3::bigint, 'backedUp', $4::boolean, 'lastUsedAt', $5::float8)
      WHERE credential_id = $1 AND counter = $2::bigint RETURNING 1 AS used`,
    renamePasskey: `UPDATE ${s}.passkeys SET record = jsonb_set(record, '{name}', to_jsonb($3::text))
      WHERE account_id = $1 AND credential_id = $2 RETURNING 1 AS renamed`,
    deletePasskey: `DELETE FROM ${s}.passkeys WHERE account_id = $1 AND credential_id = $2 RETURNING 1 AS deleted`,

    // device authorizations: RFC 8628 ---------------------------------------------------------
    // A live row holding the user code wins (nothing written, no row back); an expired one is
    // replaced in place, so a dead row never blocks a user code until the sweeper runs.
    createDeviceAuthorization: `INSERT INTO ${s}.device_authorizations AS d
        (device_code_hash, user_code_hash, client_id, record, status, interval_seconds, code_expires_at, expires_at)
      VALUES ($1, $2, $3, $4::jsonb, 'pending', $5::int, to_timestamp($6::float8), to_timestamp($7::float8))
      ON CONFLICT (user_code_hash) DO UPDATE SET device_code_hash = excluded.device_code_hash,
        client_id = excluded.client_id, record = excluded.record, status = 'pending',
        interval_seconds = excluded.interval_seconds, last_poll_at = NULL, approval = NULL,
        code_expires_at = excluded.code_expires_at, expires_at = excluded.expires_at
      WHERE d.expires_at <= now()
      RETURNING 1 AS created`,
    findDeviceAuthorization: `SELECT device_code_hash, record, status FROM ${s}.device_authorizations
      WHERE user_code_hash = $1 AND expires_at > now()`,
    // Only a pending, unexpired row changes: of concurrent answers, the row lock lets one win.
    decideDeviceAuthorization: `UPDATE ${s}.device_authorizations SET status = $2, approval = $3::jsonb
      WHERE device_code_hash = $1 AND status = 'pending' AND code_expires_at > now() AND expires_at > now()
      RETURNING 1 AS decided`,
    // One poll: the row is locked (a concurrent poll waits, then sees this one's result), the
    // poll time recorded, an approval consumed, a too-fast pending poll slowed down by 5 s.
    pollDeviceAuthorization: `WITH cur AS (
        SELECT device_code_hash, status, interval_seconds, last_poll_at, code_expires_at > now() AS live
        FROM ${s}.device_authorizations
        WHERE device_code_hash = $1 AND client_id = $2 AND expires_at > now()
        FOR UPDATE
      )
      UPDATE ${s}.device_authorizations AS d SET
        last_poll_at = now(),
        status = CASE WHEN cur.live AND cur.status = 'approved' THEN 'consumed' ELSE cur.status END,
        interval_seconds = CASE
          WHEN cur.live AND cur.status = 'pending' AND cur.last_poll_at IS NOT NULL
            AND now() - cur.last_poll_at < cur.interval_seconds * interval '1 second'
          THEN cur.interval_seconds + 5 ELSE cur.interval_seconds END
      FROM cur WHERE d.device_code_hash = cur.device_code_hash
      RETURNING cur.status AS previous_status, cur.live, cur.interval_seconds AS previous_interval,
        d.interval_seconds, d.record, d.approval`,

    markUsed: `INSERT INTO ${s}.used_values AS u (key, expires_at) VALUES ($1, to_timestamp($2::float8))
      ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE u.expires_at <= now()
      RETURNING 1 AS fresh`,
    incrementCounter: `INSERT INTO ${s}.counters AS c (key, count, expires_at) VALUES ($1, 1, now() + $2::int * interval '1 second')
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN c.expires_at <= now() THEN 1 ELSE c.count + 1 END,
        expires_at = CASE WHEN c.expires_at <= now() THEN excluded.expires_at ELSE c.expires_at END
      RETURNING count, ceil(extract(epoch FROM expires_at))::float8 AS reset_at`,
    getCounter: `SELECT count, ceil(extract(epoch FROM expires_at))::float8 AS reset_at FROM ${s}.counters
      WHERE key = $1 AND expires_at > now()`,
    // More keys than `counterStatements` takes: one array parameter. Its plan depends on the
    // array's length, so PostgreSQL plans it at each execution (see `counterStatements`).
    getCounters: `SELECT c.count, ceil(extract(epoch FROM c.expires_at))::float8 AS reset_at
      FROM unnest($1::text[]) WITH ORDINALITY AS k (key, position)
      LEFT JOIN ${s}.counters c ON c.key = k.key AND c.expires_at > now()
      ORDER BY k.position`,
    // getCounters with the client beside (issue 32: client authentication in one statement).
    getClientWithCounters: `SELECT c.count, ceil(extract(epoch FROM c.expires_at))::float8 AS reset_at,
        (SELECT record FROM ${s}.clients WHERE client_id = $2) AS client
      FROM unnest($1::text[]) WITH ORDINALITY AS k (key, position)
      LEFT JOIN ${s}.counters c ON c.key = k.key AND c.expires_at > now()
      ORDER BY k.position`,
    resetCounter: `DELETE FROM ${s}.counters WHERE key = $1`,
  }
}

/** Key counts up to this get statements of their own (`counterStatements`); more use one array. */
export const maxCounterKeys = 16

/**
 * getCounters and getClientWithCounters for exactly `count` keys (1 to `maxCounterKeys`), one
 * parameter per key: a VALUES list has as many rows in the generic plan as in a custom one, so
 * PostgreSQL keeps one cheap plan per connection (an index lookup per key). The array form's
 * `unnest` is guessed at 10 rows in the generic plan: PostgreSQL then re-plans at every
 * execution, or keeps a hash join that reads the whole counters table (issue 27: 2-3 x the
 * backend CPU of a primary-key read, measured in bench/pg-statement-cost.ts).
 *
 * Rows carry `position` (1-based, the key's place in `keys`); only live counters come back.
 * getClientWithCounters answers the client, when it exists, in one more row at position 0.
 */
export function counterStatements (s: string, count: number): { getCounters: string, getClientWithCounters: string } {
  const counters = (first: number): string => {
    const keys = Array.from({ length: count }, (_, index) => `(${index + 1}, $${index + first}::text)`).join(', ')
    return `SELECT k.position, NULL::jsonb AS client, c.count, ceil(extract(epoch FROM c.expires_at))::float8 AS reset_at
      FROM (VALUES ${keys}) AS k (position, key)
      JOIN ${s}.counters c ON c.key = k.key AND c.expires_at > now()`
  }
  return {
    // Parameters: the keys.
    getCounters: counters(1),
    // Parameters: the client id, then the keys.
    getClientWithCounters: `SELECT 0 AS position, record AS client, NULL::int AS count, NULL::float8 AS reset_at
      FROM ${s}.clients WHERE client_id = $1
      UNION ALL
      ${counters(2)}`,
  }
}

/** Deletes up to $1 expired rows of `table`; rows another instance is deleting are skipped. */
export function sweepStatement (s: string, table: string): string {
  return `DELETE FROM ${s}.${table} WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM ${s}.${table} WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED))`
}
