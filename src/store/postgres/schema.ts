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
];
