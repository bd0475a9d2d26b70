import { describe, expect, it } from 'vitest';
import { settle } from '../src/delivery/worker.js';

describe('settle (one message from its operations’ outcomes)', () => {
  it('acks when every operation was delivered', () => {
    expect(settle(null, [{ status: 'delivered' }, { status: 'delivered' }])).toEqual({ kind: 'ack' });
  });
  it('acks a message that matched no subscription', () => {
    expect(settle(null, [])).toEqual({ kind: 'ack' });
  });
  it('retries the whole message when any operation must be retried, keeping Retry-After', () => {
    expect(settle(null, [{ status: 'delivered' }, { status: 'retry', error: '429', retryAfterMs: 3000 }])).toEqual({
      kind: 'retry',
      error: '429',
      retryAfterMs: 3000,
      rateLimited: true,
    });
    expect(settle(null, [{ status: 'retry', error: '500' }])).toEqual({ kind: 'retry', error: '500', retryAfterMs: undefined });
  });
  it('retry wins over a permanent failure (the failure is reported after the retry settles)', () => {
    expect(
      settle(null, [
        { status: 'failed', error: 'bad email' },
        { status: 'retry', error: '500' },
      ]).kind,
    ).toBe('retry');
  });
  it('dead-letters with Klaviyo’s reason when an operation was rejected', () => {
    const s = settle(null, [{ status: 'failed', error: 'phone_number is not E.164', detail: { pointer: '/data/attributes/phone_number' } }]);
    expect(s).toEqual({ kind: 'dead', reason: 'Klaviyo rejected it: phone_number is not E.164', detail: { pointer: '/data/attributes/phone_number' } });
  });
  it('dead-letters when any operation failed, wherever it stands among delivered ones', () => {
    expect(settle(null, [{ status: 'delivered' }, { status: 'failed', error: 'bad email' }])).toEqual({
      kind: 'dead',
      reason: 'Klaviyo rejected it: bad email',
      detail: undefined,
    });
  });
  it('a retry waits for the longest Retry-After of its parts, and uses an attempt unless every part was rate-limited', () => {
    expect(
      settle(null, [
        { status: 'retry', error: '503' },
        { status: 'retry', error: '429', retryAfterMs: 2000 },
        { status: 'retry', error: '429', retryAfterMs: 5000 },
      ]),
    ).toEqual({ kind: 'retry', error: '503', retryAfterMs: 5000 });
    expect(
      settle(null, [
        { status: 'retry', error: '429', retryAfterMs: 2000 },
        { status: 'retry', error: 'waiting', retryAfterMs: 5000 },
      ]),
    ).toEqual({ kind: 'retry', error: '429', retryAfterMs: 5000, rateLimited: true });
  });
  it('dead-letters a mapping error even when other actions delivered', () => {
    expect(settle({ field: 'email', message: 'required' }, [{ status: 'delivered' }])).toEqual({ kind: 'dead', reason: 'mapping failed at email: required' });
  });
});
