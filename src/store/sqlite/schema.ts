/** Schema migrations, append-only: never edit a shipped one, add the next number. */
export const MIGRATIONS: Array<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE queue (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        destination TEXT NOT NULL,
        message_id TEXT NOT NULL,
        partition_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        received_at INTEGER NOT NULL,
        available_at INTEGER NOT NULL,
        -- 'ready' (waiting or to be retried at available_at), 'leased' (until available_at), 'dead'
        state TEXT NOT NULL DEFAULT 'ready',
        owner TEXT,
        last_error TEXT,
        dead_reason TEXT,
        dead_detail TEXT,
        dead_at INTEGER
      );
      CREATE UNIQUE INDEX queue_message ON queue (destination, message_id) WHERE state != 'dead';
      CREATE INDEX queue_partition ON queue (destination, partition_key, seq) WHERE state != 'dead';
      CREATE INDEX queue_ready ON queue (destination, state, seq);
      CREATE TABLE delivered (destination TEXT PRIMARY KEY, count INTEGER NOT NULL);
      CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `,
  },
  {
    version: 2,
    sql: `
      CREATE TABLE throughput (
        destination TEXT NOT NULL,
        minute INTEGER NOT NULL,
        received INTEGER NOT NULL DEFAULT 0,
        delivered INTEGER NOT NULL DEFAULT 0,
        dead INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (destination, minute)
      );
    `,
  },
  {
    version: 3,
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
    version: 4,
    sql: `
      -- Failed attempts per minute, for the dashboard's "retrying" series.
      ALTER TABLE throughput ADD COLUMN retried INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 5,
    sql: `
      -- Queue counts per destination and state read this index alone, not the rows with their payloads.
      CREATE INDEX queue_stats ON queue (destination, state, attempts, available_at);
    `,
  },
  {
    version: 6,
    sql: `
      -- Warehouse sync: one run per model at a time. The owner holds a lease it renews while running, so the lock
      -- of a killed run lapses by itself.
      CREATE TABLE sync_locks (model TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL);
      -- Keys a dry run saw (dry runs never write sync_rows), per run; dropped when the run ends.
      CREATE TABLE sync_seen (run TEXT NOT NULL, pk TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (run, pk));
      -- The queue seq after which the pending change's own copy of its message was queued: older dead copies of the
      -- same message id (an earlier run's) are not its outcome.
      ALTER TABLE sync_rows ADD COLUMN pending_after INTEGER;
    `,
  },
  {
    version: 7,
    sql: `
      -- The ingest inbox (queue.inbox.db beside this file, ./inbox.ts) is routed into the queue up to this inbox id. It is
      -- moved forward in the same transaction as the queue rows it stands for: a crash mid-routing neither loses nor
      -- repeats a record.
      CREATE TABLE inbox_routed (id INTEGER PRIMARY KEY CHECK (id = 1), upto INTEGER NOT NULL);
      INSERT INTO inbox_routed (id, upto) VALUES (1, 0);
    `,
  },
  {
    version: 8,
    sql: `
      -- Messages that matched no action are settled without a request: counted apart from those delivered.
      ALTER TABLE delivered ADD COLUMN filtered INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE throughput ADD COLUMN filtered INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 9,
    sql: `
      -- Every configuration applied (live reload, rollback): its document and its changes from the one before.
      CREATE TABLE config_versions (version INTEGER PRIMARY KEY, at INTEGER NOT NULL, author TEXT NOT NULL, config TEXT NOT NULL, diff TEXT NOT NULL);
    `,
  },
  {
    version: 10,
    sql: `
      -- When a kept row was found gone from the source (its deletion recorded): retention.deletedRowDays counts from it.
      ALTER TABLE sync_rows ADD COLUMN deleted_at INTEGER;
    `,
  },
  {
    version: 11,
    sql: `
      -- Bulk jobs Klaviyo accepted for queued messages' operations: polled again after a restart, never re-created.
      CREATE TABLE bulk_jobs (seq INTEGER NOT NULL, op INTEGER NOT NULL, kind TEXT NOT NULL, job_id TEXT NOT NULL, entries TEXT NOT NULL, PRIMARY KEY (seq, op));
    `,
  },
  {
    version: 12,
    sql: `
      -- Lookups by message id whatever the state read queue_message (live rows) and this one (dead rows): a full index
      -- repeated queue_message for every live row, one more B-tree every routed message paid for.
      CREATE INDEX queue_message_dead ON queue (destination, message_id) WHERE state = 'dead';
      DROP INDEX queue_message_any;
    `,
  },
];
