/** Schema migrations, append-only: never edit a shipped one, add the next number. */
export const MIGRATIONS: Array<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE queue (
        seq BIGSERIAL PRIMARY KEY,
        destination TEXT NOT NULL,
        message_id TEXT NOT NULL,
        partition_key TEXT NOT NULL,
        -- JSON text, not jsonb: payloads round-trip byte for byte and may contain \\u0000, which jsonb rejects
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        -- epoch milliseconds
        received_at BIGINT NOT NULL,
        available_at BIGINT NOT NULL,
        -- 'ready' (waiting or to be retried at available_at), 'leased' (until available_at), 'dead'
        state TEXT NOT NULL DEFAULT 'ready',
        owner TEXT,
        last_error TEXT,
        dead_reason TEXT,
        dead_detail TEXT,
        dead_at BIGINT
      );
      CREATE UNIQUE INDEX queue_message ON queue (destination, message_id) WHERE state <> 'dead';
      CREATE INDEX queue_partition ON queue (destination, partition_key, seq) WHERE state <> 'dead';
      CREATE INDEX queue_live ON queue (destination, seq) WHERE state <> 'dead';
      CREATE TABLE delivered (destination TEXT PRIMARY KEY, count BIGINT NOT NULL);
      CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `,
  },
  {
    version: 2,
    sql: `
      CREATE TABLE throughput (
        destination TEXT NOT NULL,
        minute BIGINT NOT NULL,
        received BIGINT NOT NULL DEFAULT 0,
        delivered BIGINT NOT NULL DEFAULT 0,
        dead BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (destination, minute)
      );
    `,
  },
  {
    version: 3,
    sql: `
      -- Shared rate limits: a sliding log of request times per key, on the database's clock.
      CREATE TABLE rate_log (key TEXT NOT NULL, sent_at BIGINT NOT NULL);
      CREATE INDEX rate_log_key ON rate_log (key, sent_at DESC);
      CREATE TABLE rate_pause (key TEXT PRIMARY KEY, until_ms BIGINT NOT NULL);
      CREATE FUNCTION kd_now_ms() RETURNS BIGINT LANGUAGE sql AS $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;
      -- 0 and the request is counted, or how many ms until it may go. One key's takers queue on an advisory lock.
      CREATE FUNCTION kd_take_rate(p_key TEXT, p_burst INT, p_burst_ms INT, p_steady INT, p_steady_ms INT) RETURNS BIGINT
      LANGUAGE plpgsql AS $$
      DECLARE
        now_ms BIGINT;
        until_ms BIGINT;
        nth BIGINT;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('kd-rate:' || p_key));
        now_ms := kd_now_ms();
        SELECT r.until_ms INTO until_ms FROM rate_pause r WHERE r.key = p_key;
        IF until_ms IS NOT NULL AND until_ms > now_ms THEN RETURN until_ms - now_ms; END IF;
        DELETE FROM rate_log WHERE key = p_key AND sent_at <= now_ms - p_steady_ms;
        SELECT sent_at INTO nth FROM rate_log WHERE key = p_key ORDER BY sent_at DESC OFFSET p_steady - 1 LIMIT 1;
        IF nth IS NOT NULL THEN RETURN nth + p_steady_ms - now_ms + 1; END IF;
        SELECT sent_at INTO nth FROM rate_log WHERE key = p_key ORDER BY sent_at DESC OFFSET p_burst - 1 LIMIT 1;
        IF nth IS NOT NULL AND nth > now_ms - p_burst_ms THEN RETURN nth + p_burst_ms - now_ms + 1; END IF;
        INSERT INTO rate_log (key, sent_at) VALUES (p_key, now_ms);
        RETURN 0;
      END $$;
    `,
  },
  {
    version: 4,
    sql: `
      -- Warehouse sync: per model and primary key, the hash last delivered and the change in flight.
      CREATE TABLE sync_rows (
        model TEXT NOT NULL,
        pk TEXT NOT NULL,
        hash TEXT,
        row TEXT,
        pending_hash TEXT,
        pending_id TEXT,
        pending_row TEXT,
        seen_run TEXT,
        PRIMARY KEY (model, pk)
      );
      CREATE INDEX sync_rows_pending ON sync_rows (model, pending_id) WHERE pending_id IS NOT NULL;
      -- Settling looks messages up by id whatever their state (the unique index covers live ones only).
      CREATE INDEX queue_message_any ON queue (destination, message_id);
    `,
  },
  {
    version: 5,
    sql: `
      -- Failed attempts per minute, for the dashboard's "retrying" series.
      ALTER TABLE throughput ADD COLUMN retried BIGINT NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 6,
    sql: `
      -- Queue counts per destination and state read this index alone, not the rows with their payloads.
      CREATE INDEX queue_stats ON queue (destination, state, attempts, available_at);
    `,
  },
  {
    version: 7,
    sql: `
      -- Warehouse sync: one run per model at a time. The owner holds a lease it renews while running, so the lock
      -- of a killed run lapses by itself.
      CREATE TABLE sync_locks (model TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at BIGINT NOT NULL);
      -- Keys a dry run saw (dry runs never write sync_rows), per run; dropped when the run ends.
      CREATE TABLE sync_seen (run TEXT NOT NULL, pk TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (run, pk));
      -- The queue seq after which the pending change's own copy of its message was queued: older dead copies of the
      -- same message id (an earlier run's) are not its outcome.
      ALTER TABLE sync_rows ADD COLUMN pending_after BIGINT;
    `,
  },
  {
    version: 8,
    sql: `
      -- Messages that matched no action are settled without a request: counted apart from those delivered.
      ALTER TABLE delivered ADD COLUMN filtered BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE throughput ADD COLUMN filtered BIGINT NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 9,
    sql: `
      -- Every configuration applied (live reload, rollback): its document and its changes from the one before.
      CREATE TABLE config_versions (version INTEGER PRIMARY KEY, at BIGINT NOT NULL, author TEXT NOT NULL, config TEXT NOT NULL, diff TEXT NOT NULL);
    `,
  },
  {
    version: 10,
    sql: `
      -- When a kept row was found gone from the source (its deletion recorded): retention.deletedRowDays counts from it.
      ALTER TABLE sync_rows ADD COLUMN deleted_at BIGINT;
    `,
  },
  {
    version: 11,
    sql: `
      -- Bulk jobs Klaviyo accepted for queued messages' operations: polled again after a restart, never re-created.
      CREATE TABLE bulk_jobs (seq BIGINT NOT NULL, op INTEGER NOT NULL, kind TEXT NOT NULL, job_id TEXT NOT NULL, entries TEXT NOT NULL, PRIMARY KEY (seq, op));
    `,
  },
  {
    version: 12,
    sql: `
      -- The pace: requests spaced p_spacing_ms apart, one missed slot caught up (src/klaviyo/limiter.ts, pacedLimits).
      CREATE TABLE rate_slot (key TEXT PRIMARY KEY, next_ms BIGINT NOT NULL);
      CREATE FUNCTION kd_take_rate(p_key TEXT, p_burst INT, p_burst_ms INT, p_steady INT, p_steady_ms INT, p_spacing_ms INT) RETURNS BIGINT
      LANGUAGE plpgsql AS $$
      DECLARE
        now_ms BIGINT;
        next_ms BIGINT;
        wait BIGINT;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('kd-rate:' || p_key));
        now_ms := kd_now_ms();
        SELECT s.next_ms INTO next_ms FROM rate_slot s WHERE s.key = p_key;
        IF next_ms IS NOT NULL AND next_ms - p_spacing_ms > now_ms THEN RETURN next_ms - p_spacing_ms - now_ms; END IF;
        wait := kd_take_rate(p_key, p_burst, p_burst_ms, p_steady, p_steady_ms);
        IF wait > 0 THEN RETURN wait; END IF;
        INSERT INTO rate_slot (key, next_ms) VALUES (p_key, now_ms + p_spacing_ms)
        ON CONFLICT (key) DO UPDATE SET next_ms = GREATEST(rate_slot.next_ms, now_ms) + p_spacing_ms;
        RETURN 0;
      END $$;
    `,
  },
  {
    version: 13,
    sql: `
      -- Lookups by message id whatever the state read queue_message (live rows) and this one (dead rows): a full index
      -- repeated queue_message for every live row, one more B-tree every enqueued message paid for.
      CREATE INDEX queue_message_dead ON queue (destination, message_id) WHERE state = 'dead';
      DROP INDEX queue_message_any;
    `,
  },
];
