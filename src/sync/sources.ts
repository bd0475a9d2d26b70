/**
 * Warehouse rows as a stream: a Postgres query (read through a cursor), a CSV file, a JSON Lines file, Parquet files
 * or a DuckDB query (both read by DuckDB, a chunk at a time).
 */
import { open, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { parse } from 'csv-parse';
import pg from 'pg';
import Cursor from 'pg-cursor';
import type { RowSource } from '../config/index.js';

export type Row = Record<string, unknown>;

const BATCH = 2000;

/** Rows in batches; memory holds one batch at a time whatever the source's size. */
export async function* readRows(source: RowSource): AsyncGenerator<Row[]> {
  if ('postgres' in source) yield* postgresRows(source.postgres, source.query);
  else if ('csv' in source) yield* batched(csvRows(source.csv));
  else if ('jsonl' in source) yield* batched(jsonLines(source.jsonl));
  else if ('parquet' in source) yield* batched(duckdbRows(':memory:', `select * from read_parquet(${sqlText(source.parquet)})`, source.parquet));
  else yield* batched(duckdbRows(source.duckdb, source.query, source.duckdb));
}

/**
 * How much there is to read, for progress: bytes for a file; undefined for a query (counting its rows would run
 * the whole query once more before reading it).
 */
export async function sourceSize(source: RowSource): Promise<{ unit: 'bytes' | 'rows'; total: number } | undefined> {
  if ('postgres' in source || 'duckdb' in source) return undefined;
  // Parquet files say how many rows they hold in their footers.
  if ('parquet' in source) return { unit: 'rows', total: await parquetRowCount(source.parquet) };
  return { unit: 'bytes', total: (await stat('csv' in source ? source.csv : source.jsonl)).size };
}

/** A file opened for reading; a file that cannot be read says so by name, not with a bare ENOENT. */
async function openFile(path: string): Promise<import('node:fs').ReadStream> {
  try {
    const fh = await open(path, 'r');
    return fh.createReadStream();
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Through `pipeline`: a read error mid-way fails the parse (`.pipe` would leave it uncaught, ending the process). */
async function* csvRows(path: string): AsyncGenerator<Row> {
  const parser = pipeline(await openFile(path), parse({ columns: true, skip_empty_lines: true, bom: true }), () => {});
  try {
    for await (const row of parser as AsyncIterable<Row>) yield row;
  } catch (err) {
    throw readError(path, err);
  }
}

/** The URL without its password, for messages. */
function shown(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the postgres:// source';
  }
}

/** The digits of a decimal numeral without its sign, point, and leading and trailing zeros (no regex: one pass). */
function significantDigits(v: string): number {
  const d = v.replace('-', '').replace('.', '');
  let from = 0;
  let to = d.length;
  while (from < to && d[from] === '0') from++;
  while (to > from && d[to - 1] === '0') to--;
  return to - from;
}

/** bigint and numeric as numbers where a number holds them exactly enough (pg gives text, to be safe). */
const pgTypes = {
  getTypeParser(oid: number, format?: string) {
    if (oid === 20) return (v: string) => (Number.isSafeInteger(Number(v)) ? Number(v) : v);
    if (oid === 1700) return (v: string) => (Number.isFinite(Number(v)) && significantDigits(v) <= 15 ? Number(v) : v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

async function* postgresRows(url: string, query: string): AsyncGenerator<Row[]> {
  const client = new pg.Client({ connectionString: url, types: pgTypes });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`cannot read ${shown(url)}: ${(err as Error).message}`);
  }
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
  for await (const line of lines(path)) {
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

/** The file's lines (LF or CRLF). Not readline: its iterator does not pass on the file's read errors. */
async function* lines(path: string): AsyncGenerator<string> {
  const input = await openFile(path);
  input.setEncoding('utf8');
  let rest = '';
  try {
    for await (const chunk of input as AsyncIterable<string>) {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      for (const p of parts) yield p.endsWith('\r') ? p.slice(0, -1) : p;
    }
  } catch (err) {
    throw readError(path, err);
  }
  if (rest) yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
}

/** A file system error as `cannot read <file>: …`; anything else (a parse error) as it is. */
function readError(path: string, err: unknown): unknown {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string' ? new Error(`cannot read ${path}: ${err.message}`) : err;
}

async function* batched(rows: AsyncIterable<Row>): AsyncGenerator<Row[]> {
  let batch: Row[] = [];
  for await (const r of rows) {
    batch.push(r);
    if (batch.length >= BATCH) yield batch, (batch = []);
  }
  if (batch.length) yield batch;
}

/** A string as an SQL literal. */
const sqlText = (s: string) => `'${s.replace(/'/g, "''")}'`;

async function duckdb(path: string) {
  // Loaded on use: its native binding is only needed by Parquet and DuckDB sources.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  try {
    return await DuckDBInstance.create(path, path === ':memory:' ? {} : { access_mode: 'READ_ONLY' });
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
}

async function parquetRowCount(path: string): Promise<number> {
  const db = await duckdb(':memory:');
  const c = await db.connect();
  try {
    const r = await c.runAndReadAll(`select coalesce(sum(num_rows), 0)::double as n from parquet_file_metadata(${sqlText(path)})`);
    return Number(r.getRowObjectsJS()[0].n);
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** A query's rows through DuckDB's streaming result, a chunk (2048 rows) at a time. */
async function* duckdbRows(path: string, query: string, shownAs: string): AsyncGenerator<Row> {
  const db = await duckdb(path);
  const c = await db.connect();
  try {
    let result: Awaited<ReturnType<typeof c.stream>>;
    try {
      result = await c.stream(query);
    } catch (err) {
      throw new Error(`cannot read ${shownAs}: ${(err as Error).message}`);
    }
    const json = new Set(result.columnNames().filter((_, i) => result.columnType(i).alias === 'JSON'));
    for await (const rows of result.yieldRowObjectJs()) {
      for (const r of rows) {
        const row: Row = {};
        for (const [k, v] of Object.entries(r)) row[k] = json.has(k) && typeof v === 'string' ? JSON.parse(v) : plain(v);
        yield row;
      }
    }
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** DuckDB's JS values as JSON's: big integers as numbers when exact (else text), blobs as base64, the rest as they are. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object' && !(v instanceof Date) && Object.getPrototypeOf(v) === Object.prototype)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}
