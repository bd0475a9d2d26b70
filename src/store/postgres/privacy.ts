/** Deletion purges, suppressions and retention on Postgres (the contract: PrivacyStore in ../types.ts). */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { ExpiredCounts, ExpiryLimits, OldestKept, PrivacyStore } from '../types.js';
import { PURGE_CHUNK, SALT_KEY, SUPPRESSED_PREFIX, parsedOrText } from '../privacy-rows.js';

export class PostgresPrivacy implements PrivacyStore {
  constructor(private readonly pool: pg.Pool) {}

  async salt(): Promise<string> {
    await this.pool.query('INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [SALT_KEY, randomBytes(32).toString('hex')]);
    return (await this.pool.query('SELECT value FROM kv WHERE key = $1', [SALT_KEY])).rows[0].value;
  }

  async suppressed(): Promise<string[]> {
    const { rows } = await this.pool.query('SELECT key FROM kv WHERE starts_with(key, $1)', [SUPPRESSED_PREFIX]);
    return rows.map((r) => (r.key as string).slice(SUPPRESSED_PREFIX.length));
  }

  async suppress(hashes: string[]): Promise<void> {
    if (!hashes.length) return;
    await this.pool.query(`INSERT INTO kv (key, value) SELECT unnest($1::text[]), $2 ON CONFLICT (key) DO NOTHING`, [
      hashes.map((h) => SUPPRESSED_PREFIX + h),
      String(Date.now()),
    ]);
  }

  async unsuppress(hashes: string[]): Promise<number> {
    const r = await this.pool.query('DELETE FROM kv WHERE key = ANY($1::text[])', [hashes.map((h) => SUPPRESSED_PREFIX + h)]);
    return r.rowCount ?? 0;
  }

  async purgeMessages(names: (payload: unknown) => boolean): Promise<{ queued: number; dead: number }> {
    const out = { queued: 0, dead: 0 };
    for (let after = 0; ; ) {
      const { rows } = await this.pool.query('SELECT seq::float8 AS seq, state, payload FROM queue WHERE seq > $1 ORDER BY seq LIMIT $2', [after, PURGE_CHUNK]);
      if (!rows.length) return out;
      const doomed = rows.filter((r) => names(parsedOrText(r.payload)));
      if (doomed.length) {
        const { rows: gone } = await this.pool.query('DELETE FROM queue WHERE seq = ANY($1::bigint[]) RETURNING state', [doomed.map((r) => r.seq)]);
        for (const g of gone) out[g.state === 'dead' ? 'dead' : 'queued']++;
      }
      after = rows[rows.length - 1].seq;
    }
  }

  async purgeSyncRows(names: (value: unknown) => boolean): Promise<number> {
    let n = 0;
    for (let after: [string, string] = ['', '']; ; ) {
      const { rows } = await this.pool.query('SELECT model, pk, row, pending_row FROM sync_rows WHERE (model, pk) > ($1, $2) ORDER BY model, pk LIMIT $3', [
        after[0],
        after[1],
        PURGE_CHUNK,
      ]);
      if (!rows.length) return n;
      const doomed = rows.filter(
        (r) => names(r.pk) || (r.row !== null && names(parsedOrText(r.row))) || (r.pending_row !== null && names(parsedOrText(r.pending_row))),
      );
      for (const r of doomed) n += (await this.pool.query('DELETE FROM sync_rows WHERE model = $1 AND pk = $2', [r.model, r.pk])).rowCount ?? 0;
      const last = rows[rows.length - 1];
      after = [last.model, last.pk];
    }
  }

  async purgeExpired(limits: ExpiryLimits): Promise<ExpiredCounts> {
    const dead = await this.pool.query(`DELETE FROM queue WHERE state = 'dead' AND dead_at < $1`, [limits.deadBefore]);
    const minutes = await this.pool.query('DELETE FROM throughput WHERE minute < $1', [Math.floor(limits.throughputBefore / 60_000)]);
    const rows = await this.pool.query('DELETE FROM sync_rows WHERE deleted_at < $1', [limits.deletedRowsBefore ?? 0]);
    return { deadLetters: dead.rowCount ?? 0, throughputMinutes: minutes.rowCount ?? 0, deletedRows: rows.rowCount ?? 0 };
  }

  async oldest(): Promise<OldestKept> {
    const { rows } = await this.pool.query(
      `SELECT (SELECT min(dead_at) FROM queue WHERE state = 'dead')::float8 AS dead, (SELECT min(minute) FROM throughput)::float8 AS minute,
              (SELECT min(deleted_at) FROM sync_rows)::float8 AS deleted`,
    );
    const { dead, minute, deleted } = rows[0];
    return {
      ...(dead !== null ? { deadLetter: dead } : {}),
      ...(minute !== null ? { throughput: minute * 60_000 } : {}),
      ...(deleted !== null ? { deletedRow: deleted } : {}),
    };
  }
}
