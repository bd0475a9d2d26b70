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

export function schedule(every: string, job: () => Promise<void>): Schedule {
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      await job();
    } finally {
      running = false;
    }
  };
  const ms = parseDuration(every);
  if (ms !== undefined) {
    if (ms < 1000) throw new Error(`every: ${every} is too often; the shortest interval is 1s`);
    const t = setInterval(() => void run(), ms);
    return { stop: () => clearInterval(t) };
  }
  let cron: Cron;
  try {
    cron = new Cron(every, { protect: true }, () => void run());
  } catch (err) {
    throw new Error(`every: "${every}" is neither a duration (30s, 15m, 1h, 1d) nor a cron expression: ${(err as Error).message}`);
  }
  return { stop: () => cron.stop() };
}
