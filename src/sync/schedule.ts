/** Runs a job on a schedule: `30s` / `15m` / `1h` / `1d`, or a cron expression. A run never overlaps the previous one. */
import { Cron } from 'croner';

export interface Schedule {
  stop(): void;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds for a duration like `15m`, or undefined when `every` is not one (then it is read as cron). */
export function parseDuration(every: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([smhd])$/.exec(every.trim());
  return m ? Number(m[1]) * UNITS[m[2]] : undefined;
}

/** Throws, saying why, when `every` is not a schedule `schedule` accepts. */
export function checkSchedule(every: string): void {
  const ms = parseDuration(every);
  if (ms !== undefined) {
    if (ms < 1000) throw new Error(`every: ${every} is too often; the shortest interval is 1s`);
    return;
  }
  try {
    new Cron(every, { paused: true }).stop();
  } catch (err) {
    throw new Error(`every: "${every}" is neither a duration (30s, 15m, 1h, 1d) nor a cron expression: ${(err as Error).message}`);
  }
}

/**
 * Runs `job` on the schedule (and at once with `immediately`). A job's failure is passed to `onError` (default:
 * written to stderr) and the schedule goes on.
 */
export function schedule(every: string, job: () => Promise<void>, opts: { immediately?: boolean; onError?: (err: unknown) => void } = {}): Schedule {
  checkSchedule(every);
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      await job();
    } catch (err) {
      try {
        (opts.onError ?? ((e) => process.stderr.write(`scheduled job failed: ${e instanceof Error ? e.message : String(e)}\n`)))(err);
      } catch {
        // a failing error handler must not end the schedule either
      }
    } finally {
      running = false;
    }
  };
  const ms = parseDuration(every);
  let stop: () => void;
  if (ms !== undefined) {
    const t = setInterval(() => void run(), ms);
    stop = () => clearInterval(t);
  } else {
    const cron = new Cron(every, { protect: true }, () => void run());
    stop = () => cron.stop();
  }
  if (opts.immediately) void run();
  return { stop };
}
