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
];
