/** Token checks shared by the admin API and the health details. */
import { timingSafeEqual } from 'node:crypto';

/** The token of an `Authorization: Bearer …` header (the scheme name in any case, RFC 9110), or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^bearer\s+(\S+)/i.exec(authorization ?? '')?.[1];
}

/** Whether a token given equals the expected one, in constant time. */
export function sameToken(given: string | undefined, expected: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
