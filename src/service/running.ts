/**
 * A running `start` says so in its data dir: where it delivers each destination (the account, and the built-in
 * emulator's URL), so `sync` on the same data dir — whose messages `start`'s workers may deliver too — delivers to
 * the same place, or refuses.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface RunningRecord {
  pid: number;
  host: string;
  url: string;
  /** The built-in emulator this process delivers keyless destinations to. */
  emulatorUrl?: string;
  /** Destination name → account (src/sync/account.ts). */
  accounts: Record<string, string>;
}

const fileOf = (dataDir: string) => join(dataDir, 'running.json');

export function recordRunning(dataDir: string, record: Omit<RunningRecord, 'pid' | 'host'>): void {
  mkdirSync(dataDir, { recursive: true });
  const tmp = `${fileOf(dataDir)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ pid: process.pid, host: hostname(), ...record }));
  renameSync(tmp, fileOf(dataDir));
}

/** Removes the record if it is this process's. */
export function clearRunning(dataDir: string): void {
  if (readRecord(dataDir)?.pid === process.pid) rmSync(fileOf(dataDir), { force: true });
}

/** The record of a `start` running on this data dir now (one that died without clearing it is ignored). */
export function readRunning(dataDir: string): RunningRecord | undefined {
  const r = readRecord(dataDir);
  return r && r.host === hostname() && alive(r.pid) ? r : undefined;
}

function readRecord(dataDir: string): RunningRecord | undefined {
  try {
    return JSON.parse(readFileSync(fileOf(dataDir), 'utf8')) as RunningRecord;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
