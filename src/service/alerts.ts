/**
 * Alert webhooks (docs/alerts.md): each destination's conditions are checked on a timer; a condition that starts
 * holding is sent once ("firing"), and once more when it stops ("resolved"). Every transition is logged and counted.
 * A webhook that fails or hangs is logged and never touches delivery.
 */
import type { DestinationEntry } from '../config/index.js';

export type AlertKind = 'paused' | 'dead_letters' | 'queue_age' | 'throttled';

/** One condition as checked now: whether it holds, and a sentence saying what is wrong. */
export interface AlertCondition {
  kind: AlertKind;
  firing: boolean;
  message: string;
}

export interface AlertLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
}

const WEBHOOK_TIMEOUT_MS = 5000;

export class Alerts {
  /** Conditions firing now, by `destination|kind`: the de-duplication. */
  private readonly firing = new Set<string>();

  constructor(
    private readonly o: {
      logger: AlertLogger;
      /** Counts each transition (kd_alerts_total). */
      count: (destination: string, kind: AlertKind, state: 'firing' | 'resolved') => void;
    },
  ) {}

  /** Compare with the last check; send what changed. Never throws. */
  async update(destination: string, alerts: NonNullable<DestinationEntry['alerts']>, conditions: AlertCondition[]): Promise<void> {
    const sends: Promise<void>[] = [];
    for (const c of conditions) {
      const key = `${destination}|${c.kind}`;
      if (c.firing === this.firing.has(key)) continue;
      const state = c.firing ? 'firing' : 'resolved';
      if (c.firing) this.firing.add(key);
      else this.firing.delete(key);
      this.o.count(destination, c.kind, state);
      const text = c.firing
        ? `[klaviyo-destination] ${destination}: ${c.message}`
        : `[klaviyo-destination] resolved — ${destination}: ${c.kind.replace('_', ' ')} is back to normal`;
      this.o.logger[c.firing ? 'warn' : 'info']({ destination, alert: c.kind, state }, text);
      for (const hook of alerts.webhooks) {
        const body =
          hook.format === 'slack' ? { text } : { destination, alert: c.kind, state, message: c.firing ? c.message : text, at: new Date().toISOString() };
        sends.push(this.post(hook.url, body, destination, c.kind));
      }
    }
    await Promise.all(sends);
  }

  /** Forget a destination's conditions (removed from the configuration). */
  forget(destination: string): void {
    for (const key of [...this.firing]) if (key.startsWith(`${destination}|`)) this.firing.delete(key);
  }

  private async post(url: string, body: object, destination: string, alert: AlertKind): Promise<void> {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) this.o.logger.warn({ destination, alert, status: res.status }, 'alert webhook answered with an error');
    } catch (err) {
      this.o.logger.warn({ destination, alert, err: String(err) }, 'alert webhook could not be reached');
    }
  }
}
