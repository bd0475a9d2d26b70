/**
 * Store outages: which errors mean "the store cannot take writes right now" (Postgres unreachable or shutting
 * down, a full disk, a read-only file), and one tracker per process that remembers the current condition so
 * ingest can answer 503, /health can say why, and the log says it once and then only when it changes.
 */

export type OutageKind = 'unreachable' | 'full' | 'read-only';

export interface Outage {
  kind: OutageKind;
  /** What an operator reads: what is wrong and, where known, the driver's code. */
  reason: string;
}

/** Seconds a client is told to wait (Retry-After) while the store is down. */
export const STORE_RETRY_AFTER_S = 5;

// Node socket errors and Postgres SQLSTATEs (class 08: connection exception, 57P0x: shutting down or starting).
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);
const UNREACHABLE_MESSAGES = [
  /connection terminated/i,
  /client was closed/i,
  /timeout exceeded when trying to connect/i,
  /cannot use a pool after calling end/i,
];
/** "connection … ended|closed" in pg's words, found with indexOf: a regex with `.*` between them is quadratic. */
function connectionEnded(message: string): boolean {
  const m = message.toLowerCase();
  const at = m.indexOf('connection ');
  return at >= 0 && (m.indexOf('ended', at) >= 0 || m.indexOf('closed', at) >= 0);
}
const FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', '53100']);
const READ_ONLY_CODES = new Set(['EROFS', 'EACCES', 'EPERM', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', '25006']);

/** The outage an error stands for, or undefined when it is an ordinary error (a bug, a bad query). */
export function storeOutage(err: unknown): Outage | undefined {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return undefined;
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(err);
  const said = code ? `${code}: ${message}` : message;
  if (FULL_CODES.has(code) || code.startsWith('SQLITE_IOERR') || /disk is full|no space left/i.test(message))
    return { kind: 'full', reason: `the store cannot write: disk full or I/O error (${said})` };
  if (READ_ONLY_CODES.has(code) || code.startsWith('SQLITE_READONLY'))
    return { kind: 'read-only', reason: `the store is read-only or cannot be opened (${said})` };
  if (UNREACHABLE_CODES.has(code) || code.startsWith('08') || UNREACHABLE_MESSAGES.some((r) => r.test(message)) || connectionEnded(message))
    return { kind: 'unreachable', reason: `the store is unreachable (${said})` };
  return undefined;
}

export interface StoreCondition {
  up: boolean;
  reason?: string;
  kind?: OutageKind;
  /** Epoch ms the current outage started. */
  since?: number;
}

export interface OutageLogger {
  warn(o: object, msg?: string): void;
  info(o: object, msg?: string): void;
}

/** The current store condition of this process, fed by every store call that succeeds or fails. */
export class StoreHealth {
  private current: StoreCondition = { up: true };

  constructor(private readonly logger?: OutageLogger) {}

  /** Record a failed store call; returns the outage when it is one (the caller answers 503 / backs off). */
  failed(err: unknown): Outage | undefined {
    const outage = storeOutage(err);
    if (!outage) return undefined;
    if (this.current.up || this.current.reason !== outage.reason) {
      // Logged once per condition: a store down for an hour is one line, not one per request.
      this.logger?.warn(
        { reason: outage.reason },
        this.current.up ? 'store unavailable: answering 503 and pausing delivery' : 'store still unavailable, for another reason',
      );
      this.current = { up: false, reason: outage.reason, kind: outage.kind, since: this.current.since ?? Date.now() };
    }
    return outage;
  }

  /** A write went through: the store is back. */
  ok(): void {
    if (this.current.up) return;
    this.logger?.info({ downMs: Date.now() - (this.current.since ?? Date.now()) }, 'store available again');
    this.current = { up: true };
  }

  /** A read went through: that ends an "unreachable" outage, not a full disk (reads work on a full disk). */
  readable(): void {
    if (this.current.kind === 'unreachable') this.ok();
  }

  state(): StoreCondition {
    return { ...this.current };
  }
}
