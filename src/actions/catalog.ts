/**
 * Shared by the catalog actions (upsertCatalogItem, upsertCatalogVariant, upsertCatalogCategory): a warehouse row
 * → one catalog.write. Meant for `sync`: the row's change (`context.retl.kind`) picks create (added), update
 * (updated) or delete (deleted), and its primary key is the external id. Unknown columns are custom metadata.
 */
import type { CatalogResource, Operation } from '../klaviyo/operations.js';
import { PayloadError, type FieldDefinition, type PlanWarning } from './types.js';

type CatalogOp = Extract<Operation, { kind: 'catalog.write' }>;
const retl = (key: string) => ({ '@path': `$.context.retl.${key}` });

const str = (label: string, description: string): FieldDefinition => ({ label, description, type: 'string' });

/** Fields every catalog action has: the change, the external id. */
export const changeFields = (what: string): Record<string, FieldDefinition> => ({
  change: {
    label: 'Change',
    description: 'added → bulk create, updated → bulk update, deleted → bulk delete (a synced row’s change).',
    type: 'string',
    choices: ['added', 'updated', 'deleted'],
    required: true,
    default: retl('kind'),
  },
  external_id: {
    label: 'External ID',
    description: `The ${what}'s id in your system (default: the row's primary key).`,
    type: 'string',
    required: true,
    default: retl('primaryKey'),
  },
});

/** The fields items and variants share. */
export const productFields = (what: string): Record<string, FieldDefinition> => ({
  title: str('Title', `The ${what}'s title.`),
  description: str('Description', `The ${what}'s description (default: empty).`),
  url: str('URL', `The ${what}'s page on your site.`),
  price: { label: 'Price', description: 'Price shown in emails.', type: 'number' },
  image_full_url: str('Image URL', 'A full-size image.'),
  image_thumbnail_url: str('Thumbnail URL', 'A thumbnail image.'),
  images: str('Images', 'Image URLs: a list, a JSON array, or text separated by | or ,.'),
  published: str('Published', 'true / false (default: true).'),
  properties: {
    label: 'Custom Metadata',
    description: 'Klaviyo’s custom_metadata: every column named like no other field (flat values).',
    type: 'object',
  },
});

/** `a|b`, `a, b`, a JSON array (`["a","b"]`, as a warehouse exports an array column) or a list → trimmed non-empty texts. */
export function textList(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const list = Array.isArray(v) ? v : (jsonArray(String(v), field) ?? String(v).split(/[|,]/));
  const out = list.map((x) => String(x).trim()).filter(Boolean);
  return out.length ? out : undefined;
}

/** The array a text in brackets holds; a bracketed text that is no JSON array is refused rather than split into `["a"` and `"b"]`. */
function jsonArray(text: string, field: string): unknown[] | undefined {
  const t = text.trim();
  if (!t.startsWith('[') || !t.endsWith(']')) return undefined;
  try {
    const parsed: unknown = JSON.parse(t);
    if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string' || typeof x === 'number')) return parsed;
  } catch {
    /* refused below */
  }
  throw new PayloadError(field, `${field} ${JSON.stringify(text)} is in brackets but no JSON array of texts; give ["a","b"], or a|b, or a,b`);
}

function bool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const t = String(v).trim().toLowerCase();
  if (['true', '1', 'yes', 't', 'y'].includes(t)) return true;
  if (['false', '0', 'no', 'f', 'n'].includes(t)) return false;
  throw new PayloadError(field, `${field} must be true or false, got ${JSON.stringify(v)}`);
}

const CHANGES = { added: 'create', updated: 'update', deleted: 'delete' } as const;

/** The operation's frame: which change, which resource, which id. */
export function catalogOp(resource: CatalogResource, p: Record<string, any>): CatalogOp {
  const change = CHANGES[p.change as keyof typeof CHANGES];
  const externalId = String(p.external_id ?? '').trim();
  if (!externalId) throw new PayloadError('external_id', 'external_id is empty; a catalog entry needs one (the primary key)');
  return { kind: 'catalog.write', resource, change, externalId };
}

/** Item and variant attributes from the payload; create needs a title and a URL (Klaviyo requires them). */
export function productAttributes(p: Record<string, any>, create: boolean, warnings: PlanWarning[]): Record<string, unknown> {
  const a: Record<string, unknown> = {};
  for (const k of ['title', 'description', 'url', 'image_full_url', 'image_thumbnail_url'] as const) if (p[k] !== undefined) a[k] = String(p[k]);
  if (p.price !== undefined) a.price = p.price;
  const images = textList(p.images, 'images');
  if (images) a.images = images;
  const published = bool(p.published, 'published');
  if (published !== undefined) a.published = published;
  const meta = p.properties && typeof p.properties === 'object' ? (p.properties as Record<string, unknown>) : undefined;
  if (meta) {
    const flat = Object.fromEntries(Object.entries(meta).filter(([, v]) => v === null || typeof v !== 'object'));
    const nested = Object.keys(meta).filter((k) => !(k in flat));
    if (nested.length) warnings.push({ field: 'properties', message: `not sent: ${nested.join(', ')} (Klaviyo's custom_metadata is flat)` });
    if (Object.keys(flat).length) a.custom_metadata = flat;
  }
  if (create) {
    for (const k of ['title', 'url'] as const) if (!a[k]) throw new PayloadError(k, `${k} is required to create a catalog entry`);
    a.description ??= '';
  }
  return a;
}
