/** A transport for operation-kind tests: records every request and answers each as the test says. */
import type { ListRef } from '../../klaviyo/operations.js';
import type { KlaviyoRequest, KlaviyoResponse, KlaviyoTransport } from '../../klaviyo/request.js';
import type { SendContext } from '../types.js';

export type Answer = (r: KlaviyoRequest, n: number) => Partial<KlaviyoResponse> | Error | undefined;

export function scripted(answer: Answer = () => undefined) {
  const sent: KlaviyoRequest[] = [];
  const resolved: ListRef[] = [];
  const transport: KlaviyoTransport = {
    async send(r) {
      sent.push(r);
      const a = answer(r, sent.length - 1);
      if (a instanceof Error) throw a;
      return { status: 202, headers: {}, body: undefined, ...a };
    },
  };
  const ctx: SendContext = {
    transport,
    lists: {
      async resolve(ref, via) {
        if (via !== transport) throw new Error('the list must be resolved over the send’s own transport');
        resolved.push(ref);
        return 'id' in ref ? ref.id : `L-${ref.audienceKey}`;
      },
    },
    pollIntervalMs: 1,
    jobTimeoutMs: 5_000,
  };
  return { sent, resolved, transport, ctx };
}

/** Items as the executor hands them to `send`. */
export const items = <O>(...ops: O[]) => ops.map((op, i) => ({ messageId: `m${i}`, action: 'test', op }) as never);
