/** Phone numbers are parsed once per number and country hints; a cached answer must equal a fresh one, warnings included. */
import { describe, expect, it } from 'vitest';
import { compileDestination, planMessage } from '../../destination/index.js';
import type { PlanWarning } from '../types.js';
import { normalisePhone } from '../identity.js';

const twice = (raw: unknown, countries: unknown[]) =>
  [0, 1].map(() => {
    const warnings: PlanWarning[] = [];
    return { phone: normalisePhone(raw, countries, warnings), warnings };
  });

describe('phone normalisation, cached per number and country hints', () => {
  it('the same national number under different countries gives each country its own answer', () => {
    const [us1, us2] = twice('(212) 555-0100', ['US']);
    const [gb1, gb2] = twice('(212) 555-0100', ['GB']);
    expect(us1).toEqual({ phone: '+12125550100', warnings: [] });
    expect(us2).toEqual(us1);
    expect(gb1.phone).toBeUndefined();
    expect(gb1.warnings[0].message).toMatch(/not a valid phone number for GB/);
    expect(gb2).toEqual(gb1);
  });

  it('an invalid number or an extension is reported again on every message, not only the first', () => {
    const [bad1, bad2] = twice('12', ['US']);
    expect(bad1.warnings).toHaveLength(1);
    expect(bad2).toEqual(bad1);
    const [ext1, ext2] = twice('+1 212 555 0100 ext. 12', []);
    expect(ext1.phone).toBe('+12125550100');
    expect(ext1.warnings[0].message).toMatch(/dropped extension 12/);
    expect(ext2).toEqual(ext1);
  });

  it('planning the same identify twice sends the same profile and warnings both times', () => {
    const dest = compileDestination({ settings: { defaultCountry: 'US' } });
    const message = { type: 'identify' as const, messageId: 'm1', userId: 'u1', traits: { email: 'a@example.com', phone: '212-555-0100 x7' } };
    const [a, b] = [planMessage(dest, message), planMessage(dest, { ...message })];
    expect(a.operations[0].op).toMatchObject({ kind: 'profile.upsert', profile: { phone_number: '+12125550100' } });
    expect(a.warnings.some((w) => /dropped extension 7/.test(w.message))).toBe(true);
    expect(b.operations).toEqual(a.operations);
    expect(b.warnings).toEqual(a.warnings);
  });
});
