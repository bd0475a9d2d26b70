/**
 * Warehouse-synced messages are planned with their model's subscriptions, not the destination's live ones. The
 * sync run stores those subscriptions under the model's version; any worker loads and compiles them once.
 */
import type { Store } from '../store/types.js';
import { compileDestination, type CompiledDestination } from '../destination/index.js';
import { KV } from '../store/keys.js';

interface RetlContext {
  model: string;
  version: string;
}

export function retlOf(payload: unknown): RetlContext | undefined {
  const r = (payload as { context?: { retl?: Partial<RetlContext> } } | null)?.context?.retl;
  return r && typeof r.model === 'string' && typeof r.version === 'string' ? { model: r.model, version: r.version } : undefined;
}

/** Compiled models kept at once: a process serves a few models at a few versions each. */
const MAX_CACHED = 64;

export class ModelPlans {
  private readonly cache = new Map<string, CompiledDestination | Error>();

  constructor(
    private readonly store: Store,
    private readonly live: CompiledDestination,
  ) {}

  /** The compiled destination for a synced message (an Error when its model cannot be found or compiled). */
  async for(r: RetlContext): Promise<CompiledDestination | Error> {
    const key = KV.retlModel(r.model, r.version);
    let d = this.cache.get(key);
    if (d) return d;
    const raw = await this.store.kvGet(key);
    try {
      if (!raw) throw new Error(`model "${r.model}" version ${r.version} is unknown to this store: run \`sync\` for it again`);
      const { subscriptions } = JSON.parse(raw);
      // Only what the model maps: a row's columns are not a live event's traits.
      d = compileDestination({ name: this.live.name, subscriptions, settings: { ...this.live.settings, fillIdentifiers: false } });
    } catch (err) {
      d = err instanceof Error ? err : new Error(String(err));
    }
    // Oldest first out: many versions over a long run cannot grow it.
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, d);
    return d;
  }
}
