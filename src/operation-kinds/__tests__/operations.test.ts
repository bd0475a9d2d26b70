import { describe, expect, it } from 'vitest';
import { hasPatch, listKey, orderKeys, profileKey, type Operation } from '../../klaviyo/operations.js';

const up = (profile: Record<string, string>): Operation => ({ kind: 'profile.upsert', profile });

describe('typed operations: keys and patches', () => {
  it('hasPatch: only a patch that changes something', () => {
    expect(hasPatch(undefined)).toBe(false);
    expect(hasPatch({})).toBe(false);
    expect(hasPatch({ append: {}, unappend: {}, unset: [] })).toBe(false);
    expect(hasPatch({ append: { a: 1 } })).toBe(true);
    expect(hasPatch({ unappend: { a: 1 } })).toBe(true);
    expect(hasPatch({ unset: ['a'] })).toBe(true);
  });

  it('listKey: by id or by audience key, empty for none', () => {
    expect(listKey(undefined)).toBe('');
    expect(listKey({ id: 'L1' })).toBe('id:L1');
    expect(listKey({ audienceKey: 'vip', name: 'VIP' })).toBe('aud:vip');
  });

  it('profileKey: the first identifier in Klaviyo’s matching order, emails without case', () => {
    const all = { id: 'P', email: 'A@X.co', phone_number: '+1', external_id: 'e', anonymous_id: 'n', _kx: 'k' };
    expect(profileKey(up(all))).toBe('id:P');
    const { id: _i, ...noId } = all;
    expect(profileKey(up(noId))).toBe('email:a@x.co');
    const { email: _e, ...noEmail } = noId;
    expect(profileKey(up(noEmail))).toBe('phone:+1');
    const { phone_number: _p, ...noPhone } = noEmail;
    expect(profileKey(up(noPhone))).toBe('ext:e');
    const { external_id: _x, ...noExt } = noPhone;
    expect(profileKey(up(noExt))).toBe('anon:n');
    expect(profileKey(up({ _kx: 'k' }))).toBe('kx:k');
    expect(profileKey(up({}))).toBe('none');
  });

  it('orderKeys: the profile key, then every other identifier’s, then the partition', () => {
    const item = { messageId: 'm1', action: 'a', op: up({ email: 'A@x.co', phone_number: '+1', external_id: 'e', anonymous_id: 'n', _kx: 'k', id: 'P' }) };
    expect(orderKeys(item)).toEqual(['id:P', 'email:a@x.co', 'phone:+1', 'ext:e', 'anon:n', 'kx:k']);
    expect(orderKeys({ ...item, op: up({ phone_number: '+1', email: 'a@x.co' }), partition: 'u1' })).toEqual(['email:a@x.co', 'phone:+1', 'partition:u1']);
    expect(orderKeys({ ...item, op: up({}), partition: '' })).toEqual(['none:m1', 'partition:']);
    expect(orderKeys({ ...item, op: up({}) })).toEqual(['none:m1']);
  });
});
