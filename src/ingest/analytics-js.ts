/**
 * analytics.js served from this service, at the paths Segment's CDN uses, so Segment's standard snippet works with
 * only its host changed: /analytics.js/v1/<writeKey>/analytics.min.js is @segment/analytics-next's standalone
 * bundle, and /analytics-next/bundles/<file> its lazy chunks (which it loads from the host it was loaded from).
 * The files come from the pinned npm package, never copied into the repo; only the files of its standalone dist
 * folder are served, by exact name.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../http/errors.js';

const require = createRequire(import.meta.url);

/** The package's standalone build: `dist/umd` beside its CommonJS entry (`dist/cjs/index.js`). */
export const ANALYTICS_DIST = join(dirname(require.resolve('@segment/analytics-next')), '..', 'umd');
const VERSION = (JSON.parse(readFileSync(join(ANALYTICS_DIST, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

interface Served {
  body: Buffer;
  gzip?: Buffer;
  type: string;
}

/** Files by name, read when first asked for (a service whose sites never load analytics.js reads none). */
class DistFiles {
  private names?: Set<string>;
  private cache = new Map<string, Served>();

  get(name: string): Served | undefined {
    this.names ??= new Set(readdirSync(ANALYTICS_DIST));
    if (!/\.js(\.map)?$/.test(name) || !this.names.has(name)) return undefined;
    let f = this.cache.get(name);
    if (!f) {
      const gz = this.names.has(`${name}.gz`);
      f = {
        body: readFileSync(join(ANALYTICS_DIST, name)),
        ...(gz ? { gzip: readFileSync(join(ANALYTICS_DIST, `${name}.gz`)) } : {}),
        type: name.endsWith('.map') ? 'application/json; charset=utf-8' : 'text/javascript; charset=utf-8',
      };
      this.cache.set(name, f);
    }
    return f;
  }
}

export function registerAnalyticsJs(app: FastifyInstance, opts: { sources: () => ReadonlyMap<string, unknown> }): void {
  const files = new DistFiles();
  const send = (req: FastifyRequest, reply: FastifyReply, name: string, cacheControl: string) => {
    const f = files.get(name);
    if (!f) throw new HttpError(404, `no file ${name} in @segment/analytics-next ${VERSION}`);
    reply.header('content-type', f.type).header('cache-control', cacheControl).header('vary', 'accept-encoding');
    // The package ships each file gzipped too: sent as they are when the browser takes gzip.
    if (f.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) return reply.header('content-encoding', 'gzip').send(f.gzip);
    return reply.send(f.body);
  };
  // The loader: per write key, as Segment's CDN; a short cache, so an upgrade of the package reaches sites soon.
  app.get<{ Params: { writeKey: string } }>('/analytics.js/v1/:writeKey/analytics.min.js', async (req, reply) => {
    if (!opts.sources().has(req.params.writeKey)) throw new HttpError(404, 'unknown write key: use the write key of a source of this service');
    return send(req, reply, 'standalone.js', 'public, max-age=300');
  });
  // Chunks are named by their content's hash: cached for good.
  app.get<{ Params: { file: string } }>('/analytics-next/bundles/:file', async (req, reply) =>
    send(req, reply, req.params.file, 'public, max-age=31536000, immutable'),
  );
}
