/**
 * /admin/config*: the running configuration, its versions, and changing it live (docs/live-config.md). Every change
 * is validated before anything runs: an invalid one is a 400 naming the path at fault, and the running one stays.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ConfigConflictError, ConfigFileError, type SharedDocument } from '../config/index.js';
import type { ConfigChange } from '../config/diff.js';
import type { ApplyResult } from '../config/live.js';
import { HttpError } from '../http/errors.js';
import { configView, maskSecrets } from './config-view.js';
import { parseInput } from './input.js';
import type { AdminDeps } from './routes.js';

/** Who applied a change through this API: the admin token (there is one). */
const AUTHOR = 'admin';
/** A destination entry without a name is the default one. */
const nameOf = (d: unknown) => ((d as { name?: unknown })?.name as string | undefined) ?? 'klaviyo';

const text = z.string({ error: (i) => (Array.isArray(i.input) ? 'give it once' : 'must be text') });
const applyQuery = z.object({
  dryRun: z.enum(['true', 'false'], { error: 'must be true or false' }).optional(),
  basedOn: text
    .regex(/^\d{1,9}$/, 'must be a version number')
    .transform(Number)
    .optional(),
});
const versionsQuery = z.object({
  limit: text
    .regex(/^[1-9]\d{0,8}$/, 'must be a whole number from 1')
    .transform((s) => Math.min(Number(s), 500))
    .optional(),
});
const documentBody = z.strictObject(
  { sources: z.unknown().optional(), destinations: z.unknown().optional() },
  {
    error: (i) =>
      i.code === 'unrecognized_keys'
        ? `${i.keys.join(', ')}: set per process (its config file and flags, read at start); this API applies "sources" and "destinations"`
        : 'the body must be a JSON object: {"sources": [...], "destinations": [...]}',
  },
);
const entryBody = z.record(z.string(), z.unknown(), { error: 'the body must be a JSON object: a destination entry' });
const rollbackBody = z.strictObject({ version: z.number({ error: 'must be a version number' }).int().min(1) }, { error: 'send {"version": N}' });

export async function configRoutes(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  app.get('/config', async () => {
    const now = deps.current();
    return {
      version: now.version,
      appliedAt: now.at,
      appliedBy: now.author,
      // Whether this API may change it (`configEdits: "file"`: only the file, on SIGHUP).
      editable: Boolean(deps.editor) && deps.config.configEdits !== 'file',
      ...configView(now.config, {
        writeKeys: now.writeKeys,
        deliversTo: deps.deliversTo,
        emulatorUrl: deps.emulator?.url,
        storeKind: deps.store.rateLedger ? 'postgres' : 'sqlite',
      }),
    };
  });

  app.get('/config/versions', async (req) => {
    const limit = parseInput(versionsQuery, req.query, 'query').limit ?? 50;
    const running = deps.current().version;
    const list = await deps.store.configVersions.list(limit);
    return { running, versions: list.map((v) => ({ version: v.version, at: v.at, author: v.author, diff: maskDiff(JSON.parse(v.diff)) })) };
  });

  app.get('/config/versions/:version', async (req) => {
    const n = Number((req.params as { version: string }).version);
    const v = Number.isInteger(n) ? await deps.store.configVersions.get(n) : undefined;
    if (!v) throw new HttpError(404, `there is no configuration version ${(req.params as { version: string }).version}`);
    return { version: v.version, at: v.at, author: v.author, diff: maskDiff(JSON.parse(v.diff)), config: maskSecrets(JSON.parse(v.config)) };
  });

  /** Run a change through the editor; ConfigFileError → 400 with the path, a conflict → 409. */
  const apply = async (req: FastifyRequest, edit: (doc: SharedDocument) => SharedDocument) => {
    const q = parseInput(applyQuery, req.query, 'query');
    return answer(() => editor(deps).change(edit, AUTHOR, { basedOn: q.basedOn, dryRun: q.dryRun === 'true' }));
  };

  // The whole shared document: every source and destination.
  app.post('/config', async (req) => {
    const doc = parseInput(documentBody, req.body, 'body');
    return apply(req, () => doc as SharedDocument);
  });

  // One destination's part: PUT adds or replaces its entry, PATCH replaces the top-level keys given, DELETE removes it.
  app.put('/config/destinations/:name', async (req) => {
    const name = (req.params as { name: string }).name;
    const entry = parseInput(entryBody, req.body, 'body');
    if (entry.name !== undefined && entry.name !== name) throw new HttpError(400, `field "name" is "${String(entry.name)}" but the path names "${name}"`);
    return apply(req, (doc) => {
      const list = destinationsOf(doc);
      const i = list.findIndex((d) => nameOf(d) === name);
      const next = { ...entry, name };
      return { ...doc, destinations: i < 0 ? [...list, next] : list.map((d, j) => (j === i ? next : d)) };
    });
  });
  app.patch('/config/destinations/:name', async (req) => {
    const name = (req.params as { name: string }).name;
    const patch = parseInput(entryBody, req.body, 'body');
    if (patch.name !== undefined && patch.name !== name) throw new HttpError(400, 'a destination is renamed by adding the new one and removing the old');
    return apply(req, (doc) => patchDestination(doc, name, patch));
  });
  app.delete('/config/destinations/:name', async (req) => {
    const name = (req.params as { name: string }).name;
    return apply(req, (doc) => {
      const list = destinationsOf(doc);
      if (!list.some((d) => nameOf(d) === name)) throw new HttpError(404, `no destination named "${name}" (configured: ${list.map(nameOf).join(', ')})`);
      return { ...doc, destinations: list.filter((d) => nameOf(d) !== name) };
    });
  });

  app.post('/config/rollback', async (req) => {
    const { version } = parseInput(rollbackBody, req.body, 'body');
    return answer(() => editor(deps).rollback(version, AUTHOR));
  });

  // A destination removed from the configuration keeps its queue until it is discarded here.
  app.delete('/queues/:destination', async (req) => {
    const name = (req.params as { destination: string }).destination;
    if (deps.current().compiled.has(name)) throw new HttpError(409, `destination "${name}" is configured: remove it from the configuration first`);
    return { discarded: await deps.store.discardQueue(name) };
  });
}

export function editor(deps: AdminDeps) {
  if (!deps.editor) throw new HttpError(409, 'this process cannot change its configuration');
  return deps.editor;
}

async function answer(run: () => Promise<ApplyResult>) {
  try {
    const r = await run();
    return { ...r, diff: maskDiff(r.diff) };
  } catch (err) {
    if (err instanceof ConfigFileError) throw new HttpError(400, err.message);
    if (err instanceof ConfigConflictError) throw new HttpError(409, err.message);
    throw err;
  }
}

/** The document with some top-level keys of destination `name`'s entry replaced (PATCH; the tester's candidate). */
export function patchDestination(doc: SharedDocument, name: string, patch: Record<string, unknown>): SharedDocument {
  const list = destinationsOf(doc);
  if (!list.some((d) => nameOf(d) === name)) throw new HttpError(404, `no destination named "${name}" (configured: ${list.map(nameOf).join(', ')})`);
  return { ...doc, destinations: list.map((d) => (nameOf(d) === name ? { ...(d as object), ...patch } : d)) };
}

/** The destination entries of a document; absent: the default one destination. */
function destinationsOf(doc: SharedDocument): unknown[] {
  if (doc.destinations === undefined) return [{ name: 'klaviyo' }];
  if (!Array.isArray(doc.destinations)) throw new ConfigFileError('invalid configuration:\n  - destinations: must be a list');
  return doc.destinations;
}

/** Changes with secret values masked (API keys, write keys): the diff is shown in the dashboard. */
function maskDiff(diff: ConfigChange[]): ConfigChange[] {
  return diff.map((c) => {
    const key =
      c.path
        .split(/[.[\]]/)
        .filter(Boolean)
        .pop() ?? '';
    const wrap = (v: unknown) => maskSecrets({ [key]: v })[key];
    return { path: c.path, ...('before' in c ? { before: wrap(c.before) } : {}), ...('after' in c ? { after: wrap(c.after) } : {}) };
  });
}
