/**
 * The project's own request validation (openapi/ slices, strict): what the tests check every Klaviyo request with
 * when the shared validator is absent. Each case is a mistake Klaviyo answers with 400; where the shared validator
 * is present (CI), it must reject the same requests.
 */
import { describe, expect, it } from 'vitest';
import { validateOwn, validateShared } from '../../../test/helpers/klaviyo-validate.js';

const event = {
  data: {
    type: 'event',
    attributes: {
      properties: { anything: { goes: true } },
      metric: { data: { type: 'metric', attributes: { name: 'Order Completed' } } },
      profile: { data: { type: 'profile', attributes: { email: 'a@x.co' } } },
    },
  },
};
const good = { method: 'POST', path: '/api/events', body: event };
const with_ = (patch: (b: any) => void) => {
  const body = structuredClone(event) as any;
  patch(body);
  return { method: 'POST', path: '/api/events', body };
};

const bad: Array<[string, { method: string; path: string; body?: unknown }, string]> = [
  [
    'an attribute the spec does not declare',
    with_((b) => (b.data.attributes.profile.data.attributes.emial = 'a@x.co')),
    'body/data/attributes/profile/data/attributes/emial',
  ],
  ['a missing required attribute', with_((b) => delete b.data.attributes.metric), 'body/data/attributes'],
  ['a wrong type', with_((b) => (b.data.attributes.value = 'ten')), 'body/data/attributes/value'],
  ['a date-time without a zone', with_((b) => (b.data.attributes.time = '2026-01-01T10:00:00')), 'body/data/attributes/time'],
  ['an unknown path', { ...good, path: '/api/event' }, 'path'],
  ['a method the path does not have', { ...good, method: 'PUT' }, 'method'],
  ['no body where one is required', { method: 'POST', path: '/api/events' }, 'body'],
  ['an undeclared query parameter', { ...good, path: '/api/events?foo=1' }, 'query/foo'],
  ['a query value outside its enum', { method: 'GET', path: '/api/profiles?fields%5Bprofile%5D=email%2Cemial' }, 'query/fields[profile]'],
  ['a page size over the maximum', { method: 'GET', path: '/api/profiles?page%5Bsize%5D=1000' }, 'query/page[size]'],
];

describe('own OpenAPI validation (strict)', () => {
  it('accepts a valid request, free-form properties included', () => {
    expect(validateOwn(good)).toMatchObject({ ok: true, operationId: 'create_event', errors: [] });
    expect(validateOwn({ method: 'GET', path: '/api/profiles?page%5Bsize%5D=100&fields%5Bprofile%5D=email' }).errors).toEqual([]);
  });

  it.each(bad)('rejects %s', (_, req, where) => {
    const { ok, errors } = validateOwn(req);
    expect(ok).toBe(false);
    expect(errors.map((e) => e.where)).toContain(where);
  });

  it.skipIf(!validateShared)('agrees with the shared klaviyo-validate (when present) on every case', () => {
    for (const [, req] of bad) expect(validateShared!(req).ok, JSON.stringify(req)).toBe(false);
    expect(validateShared!(good).ok).toBe(true);
  });
});
