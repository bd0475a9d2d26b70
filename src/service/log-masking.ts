/**
 * Logs carry no personal data by default: emails, phone numbers and quoted free-form values (the text a warning
 * quotes, such as an invalid email) are masked in every string of a log line, its message included. Applied as
 * pino's log formatter, so it holds for any output (JSON or human-readable). LOG_PERSONAL_DATA=true turns it off
 * for debugging. Linear scans: a log line of attacker-chosen text costs one pass.
 */

const KEEP = 1;
const mask = (text: string) => (text.length <= KEEP ? text : `${text.slice(0, KEEP)}***`);

/** Characters that end an email's parts when scanning out from its `@`. */
const BOUNDARY = new Set([' ', '\t', '\n', '\r', '"', "'", '<', '>', ',', ';', '(', ')', '[', ']', '{', '}', '@', ':']);

function maskEmails(s: string): string {
  if (!s.includes('@')) return s;
  let out = '';
  let from = 0;
  for (let at = s.indexOf('@'); at >= 0; at = s.indexOf('@', at + 1)) {
    let start = at;
    while (start > from && !BOUNDARY.has(s[start - 1])) start--;
    if (start === at) continue;
    out += `${s.slice(from, start)}${mask(s.slice(start, at))}`;
    from = at;
  }
  return out + s.slice(from);
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const PHONE_SEPARATORS = new Set([' ', '-', '.', '(', ')']);

/** A `+` and 7 or more digits, or 10 to 15 digits, with the usual separators: all but the last two digits masked. */
function maskPhones(s: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const plus = s[i] === '+' && isDigit(s[i + 1]);
    if (!plus && !(isDigit(s[i]) && !isDigit(s[i - 1]) && !/[A-Za-z]/.test(s[i - 1] ?? ''))) continue;
    let end = plus ? i + 1 : i;
    let digits = 0;
    let lastDigit = end;
    while (end < s.length && (isDigit(s[end]) || (PHONE_SEPARATORS.has(s[end]) && isDigit(s[end + 1])))) {
      if (isDigit(s[end])) digits++, (lastDigit = end);
      end++;
    }
    const phone = plus ? digits >= 7 : digits >= 10 && digits <= 15;
    if (!phone || /[A-Za-z0-9]/.test(s[lastDigit + 1] ?? '')) {
      i = Math.max(i, lastDigit);
      continue;
    }
    let seen = 0;
    let masked = '';
    for (let j = i; j <= lastDigit; j++) masked += isDigit(s[j]) && ++seen <= digits - 2 ? '*' : s[j];
    out += s.slice(from, i) + masked;
    from = lastDigit + 1;
    i = lastDigit;
  }
  return out + s.slice(from);
}

/**
 * A value a warning or error quotes (`dropped "…"`, `extension 12 of "…"`, `"…" is not valid`) is someone's data,
 * whatever it looks like. Other quoted text (`source "web"`) is this service's own names, kept readable.
 */
const maskQuoted = (s: string) =>
  s.includes('"') ? s.replace(/(^|dropped |\bof )"([^"\n]*)"/g, (_, before: string, v: string) => `${before}"${mask(v)}"`) : s;

export function maskText(s: string): string {
  return maskPhones(maskEmails(maskQuoted(s)));
}

/** Every string in a log object masked (keys kept); depth-limited, as log objects are small. */
export function maskValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return maskText(value);
  if (depth > 8 || !value || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => maskValue(v, depth + 1));
  if (value instanceof Error) return { type: value.name, message: maskText(value.message), stack: value.stack && maskText(value.stack) };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = maskValue(v, depth + 1);
  return out;
}

/** Whether personal data is masked in logs: yes, unless LOG_PERSONAL_DATA is true (debugging). */
export const maskingLogs = (env: NodeJS.ProcessEnv = process.env) => !/^(1|true|yes)$/i.test(env.LOG_PERSONAL_DATA ?? '');
