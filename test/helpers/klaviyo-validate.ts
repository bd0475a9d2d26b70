/**
 * The shared Klaviyo request validator (OpenAPI 2026-07-15, strict mode), loaded from the workplace's
 * shared tools folder (or KLAVIYO_VALIDATE_DIR). Not an npm dependency, so `npm ci` works anywhere.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const dir = process.env.KLAVIYO_VALIDATE_DIR ?? resolve(root, '../shared/tools/klaviyo-validate');
const file = join(dir, 'validator.mjs');
if (!existsSync(file)) {
  throw new Error(`klaviyo-validate not found at ${file}; set KLAVIYO_VALIDATE_DIR to the folder holding validator.mjs`);
}

export interface ValidationResult {
  ok: boolean;
  operationId?: string;
  errors: Array<{ where: string; message: string }>;
  warnings: Array<{ where: string; message: string }>;
}
type Validator = (req: { method: string; path: string; body?: unknown; headers?: Record<string, string> }) => ValidationResult;

const mod = (await import(pathToFileURL(file).href)) as { createValidator(o: { strict?: boolean }): Validator };

/** Validate one request in strict mode: attributes the spec does not declare are errors (Klaviyo answers 400). */
export const validateStrict: Validator = mod.createValidator({ strict: true });
export const createValidator = mod.createValidator;
