/** Test helpers: plan a message through a preset, preview its requests (delivery's send code, recorded) and check each against the OpenAPI spec (strict). */
import { expect } from 'vitest';
import { compileDestination, planMessage, type CompiledDestination, type MessageResult } from '../../destination/index.js';
import { validateMessage } from '../../message/index.js';
import { previewRequests, type PreviewRequest } from '../../preview/index.js';
import type { PlannedOperation } from '../../klaviyo/operations.js';
import { validateStrict } from '../../../test/helpers/klaviyo-validate.js';

export const destination = (preset: string, settings: Record<string, unknown> = {}) => compileDestination({ preset, settings });

export function plan(dest: CompiledDestination, m: Record<string, unknown>): MessageResult {
  const v = validateMessage({ messageId: 'msg-1', ...m });
  if (!v.ok) throw new Error(`test message is invalid: ${JSON.stringify(v.error)}`);
  return planMessage(dest, v.message);
}

/** Delivery polls each bulk import job until it is done; preview shows that poll with a placeholder job id. */
export const POLL = '/api/profile-bulk-import-jobs/%3Cimport%20job%20id%3E';

/** Every request valid in strict mode (attributes the spec does not declare are errors). */
export function expectValid(requests: Pick<PreviewRequest, 'method' | 'path' | 'body'>[]): void {
  for (const r of requests)
    expect(validateStrict({ method: r.method, path: r.path, body: r.body }).errors, `${r.method} ${r.path} ${JSON.stringify(r.body)}`).toEqual([]);
}

/** The requests of some planned operations, as delivery would coalesce them; all checked against the spec. */
export async function requestsOf(ops: PlannedOperation[]): Promise<{ method: string; path: string; body: any }[]> {
  const reqs = (await previewRequests(ops)).map(({ method, path, body }) => ({ method, path, body: body as any }));
  expectValid(reqs);
  return reqs;
}

/** Plan one message that must succeed; its valid requests. */
export async function requests(dest: CompiledDestination, m: Record<string, unknown>) {
  const r = plan(dest, m);
  expect(r.error).toBeNull();
  return requestsOf(r.operations);
}
