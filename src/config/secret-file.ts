/**
 * Secrets read from files (`--api-key-file`, `KLAVIYO_API_KEY_FILE`, …): a flag's value is visible to every local
 * user in `ps` and /proc/<pid>/cmdline, and the environment to the same user and root; a file with mode 0600 is not.
 * Fits Docker and Kubernetes secrets, which are mounted as files.
 */
import { readFileSync } from 'node:fs';

/** The secret given directly or in a file (one of them, not both); the file's trailing newline is dropped. */
export function secretFrom(value: string | undefined, file: string | undefined, names: { value: string; file: string }): string | undefined {
  if (!file) return value;
  if (value) throw new Error(`give ${names.value} or ${names.file}, not both`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${names.file} ${file}: ${(err as Error).message}`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (!secret.trim()) throw new Error(`${names.file} ${file} is empty`);
  return secret;
}
