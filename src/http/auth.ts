/** Token checks shared by the admin API and the health details. */
import { timingSafeEqual } from 'node:crypto';

/** The token of an `Authorization: Bearer …` header (the scheme name in any case, RFC 9110), or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^bearer\s+(\S+)/i.exec(authorization ?? '')?.[1];
}

/** The user name of an `Authorization: Basic …` header (the scheme name in any case): a write key. */
export function basicUser(authorization: string | undefined): string | undefined {
  const m = /^basic\s+(\S+)/i.exec(authorization ?? '');
  return m ? Buffer.from(m[1], 'base64').toString('utf8').split(':')[0] : undefined;
}

/** Whether a token given equals the expected one, in constant time. */
export function sameToken(given: string | undefined, expected: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
