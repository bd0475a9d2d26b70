/** The dashboard's static files (built by `npm run build` into dist/ui), served at /ui/. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

// Two levels below the package root both as src/admin/ui.ts and as dist/admin/ui.js.
export const UI_DIR = fileURLToPath(new URL('../../dist/ui', import.meta.url));

export async function registerUi(app: FastifyInstance, dir = UI_DIR): Promise<void> {
  app.get('/ui', async (_req, reply) => reply.redirect('/ui/'));
  if (!existsSync(`${dir}/index.html`)) {
    app.get('/ui/*', async (_req, reply) => reply.status(503).type('text/plain').send('The dashboard is not built: run `npm run build` (it builds web/ into dist/ui).\n'));
    return;
  }
  await app.register(fastifyStatic, { root: dir, prefix: '/ui/', index: 'index.html' });
}
