/** Warehouse rows as a stream: a Postgres query (read through a cursor), a CSV file or a JSON Lines file. */
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import pg from 'pg';
import Cursor from 'pg-cursor';
import type { RowSource } from '../config/index.js';

export type Row = Record<string, unknown>;

const BATCH = 2000;

/** Rows in batches; memory holds one batch at a time whatever the source's size. */
export async function* readRows(source: RowSource): AsyncGenerator<Row[]> {
  if ('postgres' in source) yield* postgresRows(source.postgres, source.query);
  else if ('csv' in source) yield* batched(createReadStream(source.csv).pipe(parse({ columns: true, skip_empty_lines: true, bom: true })) as AsyncIterable<Row>);
  else yield* batched(jsonLines(source.jsonl));
}

/** How much there is to read, for progress: rows for a query, bytes for a file. */
export async function sourceSize(source: RowSource): Promise<{ unit: 'rows' | 'bytes'; total: number }> {
  if ('postgres' in source) {
    const c = new pg.Client(source.postgres);
    await c.connect();
    try {
      const { rows } = await c.query(`SELECT count(*)::bigint AS n FROM (${source.query}) AS q`);
      return { unit: 'rows', total: Number(rows[0].n) };
    } finally {
      await c.end();
    }
  }
  return { unit: 'bytes', total: statSync('csv' in source ? source.csv : source.jsonl).size };
}

async function* postgresRows(url: string, query: string): AsyncGenerator<Row[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    const cursor = client.query(new Cursor(query));
    for (;;) {
      const rows = await cursor.read(BATCH);
      if (!rows.length) break;
      yield rows;
    }
    await cursor.close();
  } finally {
    await client.end();
  }
}

async function* jsonLines(path: string): AsyncGenerator<Row> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    n++;
    if (!line.trim()) continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (err) {
      throw new Error(`${path}:${n}: not JSON (${(err as Error).message})`);
    }
    if (!row || typeof row !== 'object' || Array.isArray(row)) throw new Error(`${path}:${n}: each line must be a JSON object`);
    yield row as Row;
  }
}

async function* batched(rows: AsyncIterable<Row>): AsyncGenerator<Row[]> {
  let batch: Row[] = [];
  for await (const r of rows) {
    batch.push(r);
    if (batch.length >= BATCH) (yield batch), (batch = []);
  }
  if (batch.length) yield batch;
}
