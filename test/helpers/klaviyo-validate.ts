/**
 * Strict validation of Klaviyo requests for tests: the project's own OpenAPI validation (the vendored slices in
 * openapi/, the same checks the emulator applies), plus the workplace's shared validator as an extra check when it
 * is present (`../shared/tools/klaviyo-validate`, or KLAVIYO_VALIDATE_DIR). CI has the shared one; a fresh clone
 * does not, and its tests still validate every request.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OpenApiValidator } from '../../src/emulator/openapi-validator.js';

export interface ValidationResult {
  ok: boolean;
  operationId?: string;
  errors: Array<{ where: string; message: string }>;
  warnings: Array<{ where: string; message: string }>;
}
type Request = { method: string; path: string; body?: unknown; headers?: Record<string, string> };
type Validator = (req: Request) => ValidationResult;

/** The shared validator in strict mode, or undefined when it is not installed beside the project. */
async function sharedValidator(): Promise<Validator | undefined> {
  const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
  const given = process.env.KLAVIYO_VALIDATE_DIR;
  const file = join(given ?? resolve(root, '../shared/tools/klaviyo-validate'), 'validator.mjs');
  if (!existsSync(file)) {
    if (given) throw new Error(`KLAVIYO_VALIDATE_DIR=${given} holds no validator.mjs; unset it to validate with openapi/ alone`);
    return undefined;
  }
  const mod = (await import(pathToFileURL(file).href)) as { createValidator(o: { strict?: boolean }): Validator };
  return mod.createValidator({ strict: true });
}

const own = new OpenApiValidator(true);
const shared = await sharedValidator();

/** True when the shared validator runs beside the project's own (for tests that compare the two). */
export const sharedValidatorPresent = shared !== undefined;

/** The project's own check alone: strict (attributes the spec does not declare are errors, as Klaviyo answers 400). */
export function validateOwn(req: Request): ValidationResult {
  const { operationId, errors } = own.validateRequest(req);
  return { ok: errors.length === 0, operationId, errors, warnings: [] };
}

/** Validate one request in strict mode with every validator available; errors of either fail it. */
export const validateStrict: Validator = (req) => {
  const mine = validateOwn(req);
  if (!shared) return mine;
  const theirs = shared(req);
  const errors = [...mine.errors, ...theirs.errors.map((e) => ({ where: e.where, message: `${e.message} (shared klaviyo-validate)` }))];
  return { ok: errors.length === 0, operationId: mine.operationId ?? theirs.operationId, errors, warnings: theirs.warnings };
};

/** The shared validator alone, when present (for comparing it with the project's own). */
export const validateShared: Validator | undefined = shared;
