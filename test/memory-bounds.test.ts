/**
 * Caches and buffers fed attacker-chosen text stay within their stated bytes (docs/security.md): measured as heap
 * retained after a full collection, never timed. Each input is what the third adversarial review sent: 30 KB user
 * ids through the dashboard's request log, and 30 KB "phone numbers" through the phone-parse cache.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { RequestLog } from '../src/activity/requests.js';
import { normalisePhone } from '../src/actions/identity.js';
import type { SentRequest } from '../src/klaviyo/request.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MB = 1024 * 1024;
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
/** A distinct string of `n` characters (a fresh allocation each time, as a parsed request body gives). */
const long = (seed: string, n = 30 * 1024) => seed + 'x'.repeat(n - seed.length - 1) + '.';

describe('memory under hostile text', () => {
  it('the request log keeps at most a few KB of identifiers per request, whatever their length', () => {
    const log = new RequestLog();
    const send = (r: number) => {
      const items = Array.from({ length: 250 }, (_, i) => ({
        action: 'upsertProfile',
        messageId: long(`m-${r}-${i}-`),
        op: { kind: 'profile-upsert', profile: { external_id: long(`u-${r}-${i}-`) } },
      }));
      log.sent('klaviyo', {
        request: { endpoint: 'profile-import', method: 'POST', path: '/api/profile-import' },
        items,
        durationMs: 1,
        status: 200,
      } as unknown as SentRequest);
    };
    send(-1); // code compiled and caches warmed before measuring
    const before = heap();
    for (let r = 0; r < 40; r++) send(r);
    // 40 requests carried 2 × 250 × 30 KB each (600 MB in all); what is kept is bounded per request.
    const grown = (heap() - before) / MB;
    expect(grown).toBeLessThan(5);
    // And it still finds a request by the start of an identifier.
    expect(log.list({ profile: 'u-39-0-' })).toHaveLength(1);
  });

  it('the phone-parse cache holds no long text', () => {
    normalisePhone('+1 212 555 0100', ['US'], []);
    const before = heap();
    for (let i = 0; i < 2000; i++) normalisePhone(long(`+1 ${i} `), [], []);
    expect((heap() - before) / MB).toBeLessThan(3);
  });
});
