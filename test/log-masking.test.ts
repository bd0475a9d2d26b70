/** Logs carry no personal data by default: what a log line shows of emails, phones and quoted values. */
import { describe, expect, it } from 'vitest';
import { maskingLogs, maskText } from '../src/service/log-masking.js';
import { createLogger } from '../src/service/logger.js';

/** The lines a logger writes, parsed. */
function captured(mask: boolean) {
  const lines: any[] = [];
  const logger = createLogger('info', 'json', { mask, destination: { write: (l: string) => void lines.push(JSON.parse(l)) } });
  return { logger, lines };
}

describe('log masking', () => {
  it('masks emails, phone numbers and quoted values, and leaves times, ids, URLs and counts readable', () => {
    expect(maskText('Invalid email address: gone@example.com')).toBe('Invalid email address: g***@example.com');
    expect(maskText('dropped "not-an-email": not a valid email')).toBe('dropped "n***": not a valid email');
    expect(maskText('phone +1 212-555-0100 and 2125550100 and +442071838750')).toBe('phone +* ***-***-**00 and ********00 and +**********50');
    expect(maskText('dropped extension 12 of "555 0100 x12": E.164 has none')).toBe('dropped extension 12 of "5***": E.164 has none');
    expect(maskText('"private note" is not a number')).toBe('"p***" is not a number');
    for (const kept of [
      'generated write key for source "default": abc',
      '2026-12-07T10:00:00.000Z',
      'seq 123456',
      'http://127.0.0.1:8080/ui/',
      'msg-1234567890abc',
      'took 1500 ms',
    ])
      expect(maskText(kept)).toBe(kept);
    // Hostile text costs one pass: 200 000 @ or digits are masked without backtracking.
    expect(maskText('@'.repeat(200_000))).toHaveLength(200_000);
    expect(maskText('1'.repeat(200_000))).toHaveLength(200_000);
  });

  it('applies to every string of a log line, nested or the message itself; LOG_PERSONAL_DATA=true turns it off', () => {
    const { logger, lines } = captured(true);
    logger.warn(
      { destination: 'klaviyo', warnings: [{ field: 'email', message: 'dropped "gone@example.com": invalid' }], reason: 'Klaviyo: +12125550100 taken' },
      'message for gone@example.com delivered with changes',
    );
    expect(JSON.stringify(lines)).not.toMatch(/gone@|2125550100/);
    expect(lines[0]).toMatchObject({
      destination: 'klaviyo',
      warnings: [{ field: 'email', message: 'dropped "g***": invalid' }],
      msg: 'message for g***@example.com delivered with changes',
    });
    const open = captured(false);
    open.logger.warn({ reason: 'gone@example.com' }, 'x');
    expect(open.lines[0].reason).toBe('gone@example.com');
    expect(maskingLogs({})).toBe(true);
    expect(maskingLogs({ LOG_PERSONAL_DATA: 'true' })).toBe(false);
  });
});
