import { describe, expect, it } from 'vitest';
import { pushTokenCreate } from '../push-token-create.js';
import type { Operation } from '../../klaviyo/operations.js';
import { AuthError } from '../../klaviyo/errors.js';
import { items, scripted } from './scripted.js';

type PushOp = Extract<Operation, { kind: 'push-token.create' }>;
const op = (over: Partial<PushOp> = {}): PushOp => ({
  kind: 'push-token.create',
  token: 't1',
  platform: 'ios',
  vendor: 'apns',
  profile: { external_id: 'u1' },
  ...over,
});

describe('push-token.create', () => {
  it('one request per token, optional attributes only when set', async () => {
    const { sent, ctx } = scripted();
    const out = await pushTokenCreate.send(
      items(
        op(),
        op({ token: 't2', platform: 'android', vendor: 'fcm', enablementStatus: 'DENIED', background: 'RESTRICTED', deviceMetadata: { os_name: 'android' } }),
      ),
      ctx,
    );
    expect(out).toEqual([{ status: 'delivered' }, { status: 'delivered' }]);
    expect(sent.map((r) => [r.endpoint, r.method, r.path])).toEqual([
      ['createPushToken', 'POST', '/api/push-tokens'],
      ['createPushToken', 'POST', '/api/push-tokens'],
    ]);
    expect((sent[0].body as any).data).toEqual({
      type: 'push-token',
      attributes: { token: 't1', platform: 'ios', vendor: 'apns', profile: { data: { type: 'profile', attributes: { external_id: 'u1' } } } },
    });
    expect((sent[1].body as any).data.attributes).toMatchObject({
      enablement_status: 'DENIED',
      background: 'RESTRICTED',
      device_metadata: { os_name: 'android' },
    });
  });

  it('a 403 (scope missing) fails the token alone, naming the fix; a 401 (bad key) is thrown for the whole group', async () => {
    const forbidden = scripted(() => new AuthError('forbidden', 403));
    expect(await pushTokenCreate.send(items(op()), forbidden.ctx)).toEqual([
      { status: 'failed', error: expect.stringMatching(/lacks push-tokens:write .*pushTokens: false/) },
    ]);
    const bad = scripted(() => new AuthError('bad key', 401));
    await expect(pushTokenCreate.send(items(op()), bad.ctx)).rejects.toBeInstanceOf(AuthError);
  });
});
