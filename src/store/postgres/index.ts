/**
 * Shared store on Postgres (pg Pool): several processes may enqueue and lease from the same database.
 * Each operation is one statement or one short transaction; batches go in as arrays (unnest), not one row per query.
 */
import { PostgresBulkJobs } from './bulk-jobs.js';
import pg from 'pg';
import { deadLetterOf, extraCopies, leasedOf, messageStateOf, type DeadCopy } from '../rows.js';
import type { MessageState, ReplayResult } from '../types.js';
import type { DeadLetter, ListDeadLetters, LeasedMessage, MinuteCounts, RateLedger, SelectDeadLetters, NewMessage, Store, StoreStats } from '../types.js';
import { MIGRATIONS } from './schema.js';
import { PostgresSnapshots } from './snapshots.js';
import { PostgresPrivacy } from './privacy.js';
import { PostgresConfigVersions } from './config-versions.js';

// Advisory lock keys. The one-key and two-key forms are separate lock spaces in Postgres.
const MIGRATE_LOCK = 7_461_736_901_447_286; // any constant shared by every process of this service (< 2^53)
const ENQUEUE_LOCK = 74_617_369; // namespace of the per-destination enqueue lock
const LEASE_LOCK = 74_617_370; // namespace of the per-destination lease lock

// seq, times and counts are BIGINT; all stay far below 2^53, so read them as numbers, not strings.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

const minuteOf = (ms: number) => Math.floor(ms / 60_000);
const KEEP_THROUGHPUT_MS = 2 * 24 * 3600_000;
const COUNT_SQL = `INSERT INTO throughput (destination, minute, received, delivered, dead) VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (destination, minute) DO UPDATE SET received = throughput.received + excluded.received,
    delivered = throughput.delivered + excluded.delivered, dead = throughput.dead + excluded.dead`;

export class PostgresStore implements Store {
  private readonly pool: pg.Pool;
  readonly snapshots: PostgresSnapshots;
  readonly privacy: PostgresPrivacy;
  readonly configVersions: PostgresConfigVersions;
  readonly bulkJobs: PostgresBulkJobs;

  constructor(connectionString: string) {
    // A connect that hangs (server gone without a reset) fails after 5 s instead of holding a request forever.
    this.pool = new pg.Pool({ connectionString, types, connectionTimeoutMillis: 5000 });
    // A connection dropped by the server must not crash the process (an 'error' event without a listener
    // throws): idle ones are discarded by the pool; a checked-out one fails its query, which the caller sees,
    // and is discarded on release. Either way the next call opens a new connection.
    this.pool.on('error', () => {});
    this.pool.on('connect', (client) => client.on('error', () => {}));
    this.snapshots = new PostgresSnapshots(this.pool);
    this.privacy = new PostgresPrivacy(this.pool);
    this.configVersions = new PostgresConfigVersions(this.pool);
    this.bulkJobs = new PostgresBulkJobs(this.pool);
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }

  async migrate(): Promise<void> {
    // One transaction under an advisory lock: processes starting together apply each migration once, and DDL
    // is transactional, so a failed migration leaves nothing half done.
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATE_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      const done = new Set((await c.query('SELECT version FROM migrations')).rows.map((r) => r.version as number));
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO migrations (version, applied_at) VALUES ($1, $2)', [m.version, Date.now()]);
      }
    });
  }

  async enqueue(destination: string, messages: NewMessage[]): Promise<void> {
    if (!messages.length) return;
    const now = Date.now();
    await this.tx(async (c) => {
      // Enqueues of one destination commit one at a time, so seq order is commit order: a lease can never see
      // a message while an earlier-numbered one of its partition is still uncommitted (and then lease both).
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ENQUEUE_LOCK, destination]);
      const inserted = await c.query(
        `INSERT INTO queue (destination, message_id, partition_key, payload, received_at, available_at)
         SELECT $1, m.id, m.key, m.payload, m.received_at, 0
           FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY AS m(id, key, payload, received_at, n)
          ORDER BY m.n
         ON CONFLICT (destination, message_id) WHERE state <> 'dead' DO NOTHING`,
        [
          destination,
          messages.map((m) => m.messageId),
          messages.map((m) => m.partitionKey),
          messages.map((m) => JSON.stringify(m.payload)),
          messages.map((m) => m.receivedAt ?? now),
        ],
      );
      if (inserted.rowCount) await c.query(COUNT_SQL, [destination, minuteOf(now), inserted.rowCount, 0, 0]);
    });
  }

  /**
   * The direct path: on Postgres the commit is the server's work, not this thread's, and concurrent commits are
   * grouped by the server itself (docs/ingest.md).
   */
  async accept(destinations: string[], messages: NewMessage[]): Promise<void> {
    await Promise.all(destinations.map((d) => this.enqueue(d, messages)));
  }

  /** Nothing waits for routing: accepted messages are in the queue already. */
  async routed(): Promise<void> {}

  onRouted(): void {}

  async lease(destination: string, opts: { limit: number; leaseMs: number; owner: string; now?: number }): Promise<LeasedMessage[]> {
    const now = opts.now ?? Date.now();
    // Candidates are due messages (ready, or leased with an expired lease) with nothing earlier in their
    // partition unsettled; a partition's due messages go out together, oldest first. Leases of one destination
    // take turns (advisory lock): each then sees every lease committed before it, so two leasers can never
    // split one partition's run between them. SKIP LOCKED passes over rows an ack or retry is updating.
    const rows = await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LEASE_LOCK, destination]);
      return (
        await c.query<Parameters<typeof leasedOf>[0]>(
          `WITH c AS (
             SELECT q.seq FROM queue q
              WHERE q.destination = $1 AND q.state <> 'dead' AND q.available_at <= $2
                AND NOT EXISTS (SELECT 1 FROM queue e WHERE e.destination = q.destination AND e.partition_key = q.partition_key
                                  AND e.seq < q.seq AND e.state <> 'dead' AND e.available_at > $2)
              ORDER BY q.seq LIMIT $3
              FOR UPDATE SKIP LOCKED)
           UPDATE queue SET state = 'leased', owner = $4, available_at = $5 FROM c WHERE queue.seq = c.seq
           RETURNING queue.seq, queue.destination, queue.message_id, queue.partition_key, queue.payload, queue.attempts,
                     queue.received_at, queue.last_error`,
          [destination, now, opts.limit, opts.owner, now + opts.leaseMs],
        )
      ).rows;
    });
    return rows.sort((a, b) => a.seq - b.seq).map(leasedOf);
  }

  async ack(seqs: number[], filtered: number[] = []): Promise<void> {
    if (!seqs.length && !filtered.length) return;
    // Ordered by destination so concurrent acks lock the counter rows in the same order (no deadlock).
    await this.pool.query(
      `WITH d AS (DELETE FROM queue WHERE seq = ANY($1::bigint[]) OR seq = ANY($3::bigint[]) RETURNING destination, seq = ANY($3::bigint[]) AS filtered),
            n AS (SELECT destination, count(*) FILTER (WHERE NOT filtered) AS n, count(*) FILTER (WHERE filtered) AS f FROM d GROUP BY destination),
            t AS (INSERT INTO throughput (destination, minute, delivered, filtered) SELECT destination, $2, n, f FROM n ORDER BY destination
                  ON CONFLICT (destination, minute) DO UPDATE
                  SET delivered = throughput.delivered + excluded.delivered, filtered = throughput.filtered + excluded.filtered)
       INSERT INTO delivered (destination, count, filtered) SELECT destination, n, f FROM n ORDER BY destination
       ON CONFLICT (destination) DO UPDATE SET count = delivered.count + excluded.count, filtered = delivered.filtered + excluded.filtered`,
      [seqs, minuteOf(Date.now()), filtered],
    );
  }

  async retry(items: Array<{ seq: number; retryAt: number; error: string }>): Promise<void> {
    if (!items.length) return;
    await this.pool.query(
      `WITH r AS (
         UPDATE queue q SET state = 'ready', owner = NULL, attempts = q.attempts + 1, available_at = i.retry_at, last_error = i.error
           FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS i(seq, retry_at, error) WHERE q.seq = i.seq RETURNING q.destination)
       INSERT INTO throughput (destination, minute, retried) SELECT destination, $4, count(*) FROM r GROUP BY destination ORDER BY destination
       ON CONFLICT (destination, minute) DO UPDATE SET retried = throughput.retried + excluded.retried`,
      [items.map((i) => i.seq), items.map((i) => i.retryAt), items.map((i) => i.error), minuteOf(Date.now())],
    );
  }

  async renewLeases(seqs: number[], owner: string, leaseMs: number): Promise<number> {
    if (!seqs.length) return 0;
    const r = await this.pool.query(`UPDATE queue SET available_at = $1 WHERE seq = ANY($2::bigint[]) AND state = 'leased' AND owner = $3`, [
      Date.now() + leaseMs,
      seqs,
      owner,
    ]);
    return r.rowCount ?? 0;
  }

  async release(items: Array<{ seq: number; retryAt?: number }>): Promise<void> {
    if (!items.length) return;
    await this.pool.query(
      `UPDATE queue q SET state = 'ready', owner = NULL, available_at = i.retry_at
         FROM unnest($1::bigint[], $2::bigint[]) AS i(seq, retry_at) WHERE q.seq = i.seq`,
      [items.map((i) => i.seq), items.map((i) => i.retryAt ?? 0)],
    );
  }

  async deadLetter(items: Array<{ seq: number; reason: string; detail?: unknown }>): Promise<void> {
    if (!items.length) return;
    await this.pool.query(
      `WITH d AS (
         UPDATE queue q SET state = 'dead', owner = NULL, dead_reason = i.reason, dead_detail = i.detail, dead_at = $4, attempts = q.attempts + 1
           FROM unnest($1::bigint[], $2::text[], $3::text[]) AS i(seq, reason, detail) WHERE q.seq = i.seq RETURNING q.destination)
       INSERT INTO throughput (destination, minute, dead) SELECT destination, $5, count(*) FROM d GROUP BY destination ORDER BY destination
       ON CONFLICT (destination, minute) DO UPDATE SET dead = throughput.dead + excluded.dead`,
      [
        items.map((i) => i.seq),
        items.map((i) => i.reason),
        items.map((i) => (i.detail === undefined ? null : JSON.stringify(i.detail))),
        Date.now(),
        minuteOf(Date.now()),
      ],
    );
  }

  async messageState(destination: string, messageId: string): Promise<MessageState | undefined> {
    const { rows } = await this.pool.query(
      // Live and dead copies apart: each half reads its own partial index (schema version 13).
      `SELECT state, attempts, last_error, dead_reason FROM (
          SELECT seq, state, attempts, last_error, dead_reason FROM queue WHERE destination = $1 AND message_id = $2 AND state <> 'dead'
          UNION ALL
          SELECT seq, state, attempts, last_error, dead_reason FROM queue WHERE destination = $1 AND message_id = $2 AND state = 'dead') c
        ORDER BY seq DESC LIMIT 1`,
      [destination, messageId],
    );
    return rows[0] && messageStateOf(rows[0]);
  }

  async listDeadLetters(filter: ListDeadLetters = {}): Promise<DeadLetter[]> {
    const { where, args } = this.selectDead({ ...filter, all: true });
    const { rows } = await this.pool.query(
      `SELECT seq, destination, message_id, payload, dead_reason, dead_detail, attempts, received_at, dead_at FROM queue
        WHERE ${where} ORDER BY seq DESC LIMIT $${args.length + 1}`,
      [...args, filter.limit ?? 100],
    );
    return rows.map(deadLetterOf);
  }

  private selectDead(f: SelectDeadLetters): { where: string; args: unknown[] } {
    if (!f.all && !f.seqs?.length) throw new Error('say which dead letters: seqs, or all');
    const parts = [`state = 'dead'`];
    const args: unknown[] = [];
    if (f.destination) args.push(f.destination), parts.push(`destination = $${args.length}`);
    if (f.reason) args.push(f.reason), parts.push(`strpos(lower(dead_reason), lower($${args.length})) > 0`);
    if (f.seqs?.length) args.push(f.seqs), parts.push(`seq = ANY($${args.length}::bigint[])`);
    return { where: parts.join(' AND '), args };
  }

  async replay(filter: SelectDeadLetters): Promise<ReplayResult> {
    const { where, args } = this.selectDead(filter);
    return this.tx(async (c) => {
      const selected = (await c.query(`SELECT seq::float8 AS seq, destination, message_id FROM queue WHERE ${where} FOR UPDATE`, args)).rows as DeadCopy[];
      const live = new Set<string>();
      if (selected.length) {
        const { rows } = await c.query(`SELECT DISTINCT destination, message_id FROM queue WHERE state <> 'dead' AND message_id = ANY($1::text[])`, [
          [...new Set(selected.map((d) => d.message_id))],
        ]);
        for (const r of rows) live.add(`${r.destination}\n${r.message_id}`);
      }
      const extra = extraCopies(selected, (d) => live.has(`${d.destination}\n${d.message_id}`));
      if (extra.length) await c.query('DELETE FROM queue WHERE seq = ANY($1::bigint[])', [extra]);
      const r = await c.query(
        `UPDATE queue SET state = 'ready', attempts = 0, available_at = 0, dead_reason = NULL, dead_detail = NULL, dead_at = NULL WHERE ${where}`,
        args,
      );
      return { replayed: r.rowCount ?? 0, dropped: extra.length };
    });
  }

  async discard(filter: SelectDeadLetters): Promise<number> {
    const { where, args } = this.selectDead(filter);
    return (await this.pool.query(`DELETE FROM queue WHERE ${where}`, args)).rowCount ?? 0;
  }

  async discardQueue(destination: string): Promise<number> {
    return (await this.pool.query('DELETE FROM queue WHERE destination = $1', [destination])).rowCount ?? 0;
  }

  async oldestWaiting(destination: string): Promise<number | undefined> {
    const r = await this.pool.query(`SELECT MIN(received_at) AS at FROM queue WHERE destination = $1 AND state <> 'dead'`, [destination]);
    return r.rows[0].at ?? undefined;
  }

  // No releaseAllLeases: other processes may hold live leases on this database; expired ones are retaken by lease().

  async stats(): Promise<StoreStats> {
    const byDestination: StoreStats['byDestination'] = {};
    const get = (d: string) => (byDestination[d] ??= { queued: 0, leased: 0, retrying: 0, dead: 0, delivered: 0, filtered: 0 });
    const { rows } = await this.pool.query(
      `SELECT destination,
              count(*) FILTER (WHERE state = 'ready' AND (attempts = 0 OR available_at <= $1)) AS queued,
              count(*) FILTER (WHERE state = 'leased') AS leased,
              count(*) FILTER (WHERE state = 'ready' AND attempts > 0 AND available_at > $1) AS retrying,
              count(*) FILTER (WHERE state = 'dead') AS dead
         FROM queue GROUP BY destination`,
      [Date.now()],
    );
    for (const r of rows) Object.assign(get(r.destination), { queued: r.queued, leased: r.leased, retrying: r.retrying, dead: r.dead });
    for (const r of (await this.pool.query('SELECT destination, count, filtered FROM delivered')).rows)
      Object.assign(get(r.destination), { delivered: r.count, filtered: r.filtered });
    return { byDestination };
  }

  async throughput(filter: { sinceMs: number; destination?: string }): Promise<MinuteCounts[]> {
    await this.pool.query('DELETE FROM throughput WHERE minute < $1', [minuteOf(Date.now() - KEEP_THROUGHPUT_MS)]);
    const { rows } = await this.pool.query<MinuteCounts>(
      `SELECT destination, minute, received, delivered, filtered, retried, dead FROM throughput
        WHERE minute >= $1 AND ($2::text IS NULL OR destination = $2) ORDER BY destination, minute`,
      [minuteOf(filter.sinceMs), filter.destination ?? null],
    );
    return rows;
  }

  readonly rateLedger: RateLedger = {
    take: async (key, l) =>
      Number(
        (await this.pool.query('SELECT kd_take_rate($1, $2, $3, $4, $5, $6) AS wait', [key, l.burst, l.burstMs, l.steady, l.steadyMs, l.spacingMs])).rows[0]
          .wait,
      ),
    pause: async (key, ms) => {
      await this.pool.query(
        `INSERT INTO rate_pause (key, until_ms) VALUES ($1, kd_now_ms() + $2)
         ON CONFLICT (key) DO UPDATE SET until_ms = GREATEST(rate_pause.until_ms, excluded.until_ms)`,
        [key, ms],
      );
    },
  };

  async kvGet(key: string): Promise<string | undefined> {
    return (await this.pool.query('SELECT value FROM kv WHERE key = $1', [key])).rows[0]?.value;
  }

  async kvSet(key: string, value: string): Promise<void> {
    await this.pool.query('INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
