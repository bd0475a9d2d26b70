/** CORS on the tracking paths: only the listed origins, matched exactly. */
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { registerCors } from '../cors.js';

const apps: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

function app(origins: string[]) {
  const a = Fastify();
  apps.push(a);
  registerCors(a, { origins });
  a.post('/v1/track', async () => ({ success: true }));
  return a;
}
const post = (a: ReturnType<typeof app>, origin: string) => a.inject({ method: 'POST', url: '/v1/track', headers: { origin }, payload: {} });

describe('CORS origins', () => {
  it('an allowed origin is answered with its own name; look-alikes that only start or end like it are refused', async () => {
    const a = app(['https://shop.example.com']);
    const ok = await post(a, 'https://shop.example.com');
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe('https://shop.example.com');
    expect((await post(a, 'HTTPS://SHOP.EXAMPLE.COM')).statusCode).toBe(200); // scheme and host are case-insensitive
    for (const evil of [
      'https://shop.example.com.evil.example',
      'https://shop.example.com:8443',
      'https://shop.example.co',
      'http://shop.example.com',
      'https://evil.shop.example.com',
    ]) {
      const r = await post(a, evil);
      expect(r.statusCode, evil).toBe(403);
      expect(r.headers['access-control-allow-origin'], evil).toBeUndefined();
      expect(r.json().error).toContain(`the origin ${evil} may not send events here`);
    }
    const preflight = await a.inject({ method: 'OPTIONS', url: '/v1/track', headers: { origin: 'https://shop.example.com.evil.example' } });
    expect(preflight.statusCode).toBe(403);
  });

  it('"*" allows any origin', async () => {
    expect((await post(app(['*']), 'https://anything.example')).statusCode).toBe(200);
  });
});
