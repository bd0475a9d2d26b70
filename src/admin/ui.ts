/** The dashboard's static files (built by `npm run build` into dist/ui), served at /ui/. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

// Two levels below the package root both as src/admin/ui.ts and as dist/admin/ui.js.
export const UI_DIR = fileURLToPath(new URL('../../dist/ui', import.meta.url));

/**
 * Headers of every dashboard response: scripts, styles and requests only from this origin (no inline script),
 * never framed by another site (clickjacking), no MIME sniffing, no Referer leaking the URL.
 */
export const UI_SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export async function registerUi(app: FastifyInstance, dir = UI_DIR): Promise<void> {
  app.addHook('onSend', async (req, reply) => {
    if (req.url === '/ui' || req.url.startsWith('/ui/') || req.url.startsWith('/ui?')) reply.headers(UI_SECURITY_HEADERS);
  });
  app.get('/ui', async (_req, reply) => reply.redirect('/ui/'));
  if (!existsSync(`${dir}/index.html`)) {
    app.get('/ui/*', async (_req, reply) =>
      reply.status(503).type('text/plain').send('The dashboard is not built: run `npm run build` (it builds web/ into dist/ui).\n'),
    );
    return;
  }
  await app.register(fastifyStatic, { root: dir, prefix: '/ui/', index: 'index.html' });
}
