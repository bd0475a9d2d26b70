/** The admin API client: every call carries the bearer token; a 401 is reported to the app. */
import { getToken } from './auth';
import type { AdminConfig, ApplyResult, DeadLetter, Delivery, EmulatorView, EventDetail, EventSummary, Overview, OverviewWindow, PreviewResult } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type AuthListener = () => void;
let authListener: AuthListener = () => {};
/** The app shows the token screen again on a 401. */
export function onAuthProblem(fn: AuthListener): void {
  authListener = fn;
}

export function authHeaders(token = getToken()): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

export async function request<T>(path: string, init: { method?: string; body?: unknown; token?: string; signal?: AbortSignal } = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method: init.method ?? 'GET',
      headers: { ...authHeaders(init.token), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      signal: init.signal,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'The service did not answer. Is `klaviyo-destination start` still running?');
  }
  const text = await res.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const message = typeof body?.error === 'string' ? body.error : typeof body?.message === 'string' ? body.message : `${res.status} ${res.statusText}`;
    if (res.status === 401) authListener();
    throw new ApiError(res.status, message);
  }
  return body as T;
}

const qs = (params: Record<string, string | number | undefined | null>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
};

export interface DeliveryFilter {
  destination?: string;
  action?: string;
  status?: string;
  profile?: string;
  limit?: number;
}

export interface DeadLetterFilter {
  destination?: string;
  reason?: string;
  limit?: number;
}

export type Selection = { seqs: number[] } | { all: true; destination?: string; reason?: string };

export type PreviewRequest =
  | { destination: string; messages: unknown[] }
  | { preset: string; settings?: unknown; subscriptions?: unknown; messages: unknown[] };

export const api = {
  config: (token?: string) => request<AdminConfig>('/admin/config', { token }),
  overview: (window: OverviewWindow, signal?: AbortSignal) => request<Overview>(`/admin/overview${qs({ window })}`, { signal }),
  events: (f: { destination?: string; q?: string; limit?: number }, signal?: AbortSignal) =>
    request<{ events: EventSummary[] }>(`/admin/events${qs(f)}`, { signal }),
  event: (id: string, signal?: AbortSignal) => request<EventDetail>(`/admin/events/${encodeURIComponent(id)}`, { signal }),
  deliveries: (f: DeliveryFilter, signal?: AbortSignal) => request<{ deliveries: Delivery[] }>(`/admin/deliveries${qs({ ...f })}`, { signal }),
  deadLetters: (f: DeadLetterFilter, signal?: AbortSignal) => request<{ deadLetters: DeadLetter[] }>(`/admin/dead-letters${qs({ ...f })}`, { signal }),
  replay: (sel: Selection) => request<{ replayed: number; dropped: number }>('/admin/dead-letters/replay', { method: 'POST', body: sel }),
  discard: (sel: Selection) => request<{ discarded: number }>('/admin/dead-letters/discard', { method: 'POST', body: sel }),
  preview: (req: PreviewRequest) => request<{ results: PreviewResult[] }>('/admin/preview', { method: 'POST', body: req }),
  /** Replaces some keys of a destination's entry; `basedOn`: refused (409) if another version was applied since. */
  patchDestination: (name: string, patch: Record<string, unknown>, q: { dryRun?: boolean; basedOn?: number }, signal?: AbortSignal) =>
    request<ApplyResult>(`/admin/config/destinations/${encodeURIComponent(name)}${qs({ dryRun: q.dryRun ? 'true' : undefined, basedOn: q.basedOn })}`, {
      method: 'PATCH',
      body: patch,
      signal,
    }),
  /** The newest `live` messages sent to a destination, planned as it runs ("before") and with `candidate` applied. */
  compare: (destination: string, candidate: Record<string, unknown>, live: number) =>
    request<{ results: PreviewResult[]; before: PreviewResult[] }>('/admin/preview', { method: 'POST', body: { destination, candidate, live } }),
  fixable: (destination: string) => request<{ destination: string; deadLetters: number; fixable: number }>(`/admin/dead-letters/fixable${qs({ destination })}`),
  replayFixable: (destination: string) =>
    request<{ fixable: number; replayed: number; dropped: number }>('/admin/dead-letters/replay-fixable', { method: 'POST', body: { destination } }),
  emulator: (limit = 200, signal?: AbortSignal) => request<EmulatorView>(`/admin/emulator${qs({ limit })}`, { signal }),
};
