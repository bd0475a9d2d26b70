/** FQL triggers (Segment's subscription language), parsed once and cached. */
import { createRequire } from 'node:module';

const { parseFql, validate } = createRequire(import.meta.url)('@segment/destination-subscriptions') as {
  parseFql(fql: string): { error?: unknown } & Record<string, unknown>;
  validate(ast: unknown, event: unknown): boolean;
};

export class TriggerError extends Error {
  override name = 'TriggerError';
}

export interface CompiledTrigger {
  source: string;
  matches(message: object): boolean;
}

const cache = new Map<string, CompiledTrigger>();

export function compileTrigger(fql: string): CompiledTrigger {
  const hit = cache.get(fql);
  if (hit) return hit;
  if (typeof fql !== 'string' || !fql.trim()) throw new TriggerError('a trigger needs an FQL expression, e.g. type = "track"');
  const ast = parseFql(fql);
  if (ast.error) {
    const reason = ast.error instanceof Error ? ast.error.message : '';
    throw new TriggerError(
      `cannot parse the trigger ${JSON.stringify(fql)}${reason ? `: ${reason}` : ''}; write FQL such as type = "track" and event = "Order Completed"`,
    );
  }
  if (JSON.stringify(ast).includes('"eos"')) throw new TriggerError(`the trigger ${JSON.stringify(fql)} is incomplete: a comparison has no value`);
  const compiled: CompiledTrigger = { source: fql, matches: (message) => validate(ast, message) };
  cache.set(fql, compiled);
  return compiled;
}
