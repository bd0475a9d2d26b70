/** Identity resolution and identifier hygiene (src/actions/identity.ts), rule by rule. */
import { describe, expect, it } from 'vitest';
import { countryCode, normaliseEmail, normalisePhone, resolveIdentity, MAX_EMAIL } from '../identity.js';
import type { PlanWarning } from '../types.js';

describe('resolveIdentity', () => {
  it('collects each identifier from every source, best first, naming where it came from', () => {
    const { ids, countries } = resolveIdentity({
      type: 'track',
      userId: 'u1',
      anonymousId: 'a1',
      traits: { email: 't@x.co', phone: '+1 212 555 0100', address: { country: 'GB' } },
      context: {
        traits: { email: 'c@x.co', phone_number: '+442079460958', _kx: 'kx1', address: { country: 'US' } },
        externalIds: [
          { id: 'e@x.co', type: 'EMAIL' },
          null,
          { id: '', type: 'email' },
          { id: '01KLAV', type: 'klaviyo_profile_id' },
          { id: 'x2', type: 'external_id' },
        ],
        location: { country: 'France' },
      },
      properties: { email: 'p@x.co', klaviyo_id: '01PROP', phone: '' },
    });
    expect(ids).toEqual({
      email: [
        { value: 't@x.co', from: 'traits.email' },
        { value: 'c@x.co', from: 'context.traits.email' },
        { value: 'e@x.co', from: 'context.externalIds[0]' },
        { value: 'p@x.co', from: 'properties.email' },
      ],
      phone_number: [
        { value: '+1 212 555 0100', from: 'traits.phone' },
        { value: '+442079460958', from: 'context.traits.phone_number' },
      ],
      external_id: [
        { value: 'u1', from: 'userId' },
        { value: 'x2', from: 'context.externalIds[4]' },
      ],
      anonymous_id: [{ value: 'a1', from: 'anonymousId' }],
      _kx: [{ value: 'kx1', from: 'context.traits._kx' }],
      id: [
        { value: '01KLAV', from: 'context.externalIds[3]' },
        { value: '01PROP', from: 'properties.klaviyo_id' },
      ],
    });
    expect(countries).toEqual([
      { value: 'GB', from: 'traits.address.country' },
      { value: 'US', from: 'context.traits.address.country' },
      { value: 'France', from: 'context.location.country' },
    ]);
  });
  it('a group call’s traits are the group’s; empty, null and non-object values are no identifiers', () => {
    expect(resolveIdentity({ type: 'group', userId: '', anonymousId: null, traits: { email: 'group@x.co', address: { country: 'GB' } } })).toEqual({
      ids: {},
      countries: [],
    });
    expect(
      resolveIdentity({ type: 'identify', userId: 0, traits: ['a@x.co'], context: { traits: 'x', externalIds: 'nope', location: ['GB'] }, properties: [1] }),
    ).toEqual({ ids: { external_id: [{ value: 0, from: 'userId' }] }, countries: [] });
  });
});

describe('normaliseEmail', () => {
  const email = (raw: unknown) => {
    const warnings: PlanWarning[] = [];
    return { value: normaliseEmail(raw, warnings, 'traits.email'), warnings };
  };
  it('trims, removes mailto:, lower-cases the domain only', () => {
    expect(email('  MAILTO:Ann.Lee@Example.COM ').value).toBe('Ann.Lee@example.com');
    expect(email('me@münchen.de').value).toBe('me@münchen.de');
  });
  it('absent is no warning; anything else invalid is dropped saying why', () => {
    for (const v of [undefined, null, '']) expect(email(v)).toEqual({ value: undefined, warnings: [] });
    expect(email(42).warnings).toEqual([{ field: 'traits.email', message: 'dropped 42: it is number, not text' }]);
    const invalid = 'not a valid email address (expected name@example.com)';
    for (const v of ['@x.co', 'ann', '.a@x.co', 'a..b@x.co', 'a.@x.co', 'a@-x.co', 'a@x.c0', 'a b@x.co', 'a@x'])
      expect(email(v).warnings, v).toEqual([{ field: 'traits.email', message: `dropped ${JSON.stringify(v)}: ${invalid}` }]);
    const atLimit = `a@${'b'.repeat(60)}.${'c'.repeat(33)}.com`;
    expect(atLimit).toHaveLength(MAX_EMAIL);
    expect(email(atLimit).value).toBe(atLimit);
    const over = `b${atLimit}`;
    expect(email(over).warnings).toEqual([{ field: 'traits.email', message: `dropped ${JSON.stringify(over)}: longer than Klaviyo's 100 characters` }]);
    // Exactly 100 characters but invalid: it is its form that is wrong, not its length.
    const invalidAtLimit = 'a'.repeat(MAX_EMAIL);
    expect(email(invalidAtLimit).warnings).toEqual([{ field: 'traits.email', message: `dropped ${JSON.stringify(invalidAtLimit)}: ${invalid}` }]);
    // Only a leading mailto: is removed.
    expect(email('ann.mailto:lee@x.co').value).toBeUndefined();
    expect(normaliseEmail(1, [])).toBeUndefined();
    const w: PlanWarning[] = [];
    normaliseEmail('x', w);
    expect(w[0].field).toBe('email');
  });
});

describe('countryCode', () => {
  it('reads codes, English names and common aliases; anything else is unknown', () => {
    expect(['gb', ' us ', 'United Kingdom', 'germany', 'UK', 'USA', 'England', 'Great Britain'].map(countryCode)).toEqual([
      'GB',
      'US',
      'GB',
      'DE',
      'GB',
      'US',
      'GB',
      'GB',
    ]);
    expect(['XX', 'Narnia', 44, undefined, 'G'].map(countryCode)).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });
});

describe('normalisePhone', () => {
  const phone = (raw: unknown, countries: unknown[] = []) => {
    const warnings: PlanWarning[] = [];
    return { value: normalisePhone(raw, countries, warnings, 'traits.phone'), warnings };
  };
  it('E.164 from international forms without hints; national forms by the first hint under which they are valid', () => {
    expect(phone(' +44 20 7946 0958 ').value).toBe('+442079460958');
    expect(phone('0044 20 7946 0958').value).toBe('+442079460958');
    expect(phone('00 44 20 7946 0958').value).toBe('+442079460958');
    expect(phone('2079460958', ['GB', 'US']).value).toBe('+442079460958');
    expect(phone('2079460958', ['united states', 'GB']).value).toBe('+12079460958');
    expect(phone('2079460958', ['Narnia', 'GB', 'gb']).value).toBe('+442079460958');
    expect(phone(12125550100, ['US']).value).toBe('+12125550100');
    // Cached per number and per list of hints: invalid under US alone, valid once GB is a hint too.
    expect(phone('7911123456', ['US']).value).toBeUndefined();
    expect(phone('7911123456', ['US', 'GB']).value).toBe('+447911123456');
    // Only a leading 00 is the international prefix; a 00 inside a national number stays.
    expect(phone('2079460091', ['GB']).value).toBe('+442079460091');
  });
  it('drops what is not a number, saying why and what to send', () => {
    for (const v of [undefined, null, '']) expect(phone(v)).toEqual({ value: undefined, warnings: [] });
    expect(phone(['+12125550100']).warnings).toEqual([{ field: 'traits.phone', message: 'dropped: a phone number must be text or a number, got an array' }]);
    expect(phone(true).warnings[0].message).toBe('dropped: a phone number must be text or a number, got boolean');
    expect(phone('12125550100').warnings).toEqual([
      {
        field: 'traits.phone',
        message:
          'dropped "12125550100": not a valid phone number; send it in E.164 (+12125550100), or set a country (country_code, the address country, or the destination setting defaultCountry)',
      },
    ]);
    expect(phone(' 123 ', ['GB', 'US']).warnings).toEqual([
      { field: 'traits.phone', message: 'dropped "123": not a valid phone number for GB or US; send it in E.164 (+12125550100)' },
    ]);
    const w: PlanWarning[] = [];
    normalisePhone('1', [], w);
    expect(w[0].field).toBe('phone_number');
  });
  it('drops an extension, with a warning', () => {
    expect(phone('+1 212 555 0100 ext. 123')).toEqual({
      value: '+12125550100',
      warnings: [
        {
          field: 'traits.phone',
          message: 'dropped extension 123 of "+1 212 555 0100 ext. 123": Klaviyo stores E.164 numbers, which have no extension',
        },
      ],
    });
  });
});
