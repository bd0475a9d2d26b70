/** Warehouse rows as a stream: a Postgres query (read through a cursor), a CSV file or a JSON Lines file. */
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
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
  else yield* batched(jsonLines(source.jsonl));
}

/**
 * How much there is to read, for progress: bytes for a file; undefined for a query (counting its rows would run
 * the whole query once more before reading it).
 */
export async function sourceSize(source: RowSource): Promise<{ unit: 'bytes'; total: number } | undefined> {
  if ('postgres' in source) return undefined;
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

async function* postgresRows(url: string, query: string): AsyncGenerator<Row[]> {
  const client = new pg.Client(url);
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
    if (batch.length >= BATCH) (yield batch), (batch = []);
  }
  if (batch.length) yield batch;
}
