/**
 * Catalog sync from the warehouse: `sync --action upsertCatalogItem` keeps the emulator's catalog equal to a CSV —
 * added rows by bulk create, changed rows by bulk update, deleted rows by bulk delete — every request valid in
 * strict mode (the emulator validates against the vendored spec); variants name their item, items their categories.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/service/logger.js';
import { syncCommand } from '../src/cli/sync.js';
import { runSync } from '../src/sync/run.js';
import { fromModel } from '../src/sync/model.js';
import { syncService } from './helpers/sync-service.js';

const h = syncService('catalog', 'pk_catalog');
const { tmp } = h;

const csv = (path: string, rows: string[][]) => writeFileSync(path, rows.map((r) => r.join(',')).join('\n') + '\n');
const HEADER = ['sku', 'title', 'description', 'url', 'price', 'image', 'published', 'brand', 'internal_note'];
const row = (sku: string, title: string, price: string, brand: string) => [
  sku,
  title,
  `${title} - the description`,
  `https://shop.example/${sku}`,
  price,
  `https://img.example/${sku}.jpg`,
  'true',
  brand,
  'secret',
];

/** The emulator's catalog items in the file's terms. */
function catalogItems() {
  return h
    .emu!.snapshot()
    .catalog.items.map((i) => ({
      sku: i.external_id,
      title: i.attributes.title,
      price: i.attributes.price,
      image: i.attributes.image_full_url,
      published: i.attributes.published,
      brand: (i.attributes.custom_metadata as Record<string, unknown>)?.brand,
      metadata: Object.keys((i.attributes.custom_metadata as object) ?? {}),
    }))
    .sort((a, b) => a.sku.localeCompare(b.sku));
}
const expected = (rows: string[][]) =>
  rows
    .map((r) => ({ sku: r[0], title: r[1], price: Number(r[4]), image: r[5], published: true, brand: r[7], metadata: ['brand'] }))
    .sort((a, b) => a.sku.localeCompare(b.sku));

describe('catalog sync', () => {
  it('sync --action upsertCatalogItem from a CSV, then one row changed, one deleted, one added: the catalog equals the file', async () => {
    const emu = await h.emulator({ rateLimits: false, jobDelayMs: 1 });
    const dir = tmp();
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ dataDir: dir, destinations: [{ apiKey: 'pk_catalog', klaviyoUrl: emu.url, delivery: { flushIntervalMs: 10 } }] }));
    const file = join(dir, 'products.csv');
    const sync = () =>
      syncCommand(
        {
          config,
          source: file,
          primaryKey: 'sku',
          action: 'upsertCatalogItem',
          exclude: ['internal_note'],
          map: ['image=image_full_url'],
          identifier: 'email',
          wait: '60',
        },
        createLogger('silent'),
      );
    const first = [row('A1', 'Shirt', '20', 'Acme'), row('B2', 'Socks', '5.5', 'Acme'), row('C3', 'Hat', '12', 'Hatter')];
    csv(file, [HEADER, ...first]);
    expect(await sync()).toBe(0);
    expect(catalogItems()).toEqual(expected(first));

    const second = [row('A1', 'Shirt', '25', 'Acme'), row('C3', 'Hat', '12', 'Hatter'), row('D4', 'Scarf', '30', 'Knit Co')];
    csv(file, [HEADER, ...second]);
    expect(await sync()).toBe(0);
    expect(catalogItems()).toEqual(expected(second));
    // One bulk job per change: create (twice: 3 rows, then 1), update and delete once each; every body valid (strict).
    const counts = emu.snapshot().requests.byEndpoint;
    expect(counts).toMatchObject({ catalogItemBulkCreate: 2, catalogItemBulkUpdate: 1, catalogItemBulkDelete: 1 });
    expect(emu.snapshot().requests.byStatus['400']).toBeUndefined();
    expect(emu.snapshot().catalog_jobs.every((j) => j.status === 'complete' && j.failed_count === 0)).toBe(true);
  });

  it('variants name their item and items their categories; a row Klaviyo refuses fails alone, with its reason', async () => {
    const { store, emu } = await h.service();
    const dir = tmp();
    const model = (name: string, file: string, action: string) =>
      fromModel({ name, source: { csv: file }, primaryKey: 'id', subscriptions: [{ on: ['added', 'updated', 'deleted'], partnerAction: action }] });
    const files = { categories: join(dir, 'categories.csv'), items: join(dir, 'items.csv'), variants: join(dir, 'variants.csv') };
    csv(files.categories, [
      ['id', 'name'],
      ['shirts', 'Shirts'],
      ['sale', 'Sale'],
    ]);
    // Categories as text separated by | or , or as a JSON array (a warehouse's array column); brackets that hold no
    // JSON array are refused, not split into `[shirts` and `sale]`.
    writeFileSync(
      files.items,
      [
        'id,title,url,categories',
        'A1,Shirt,https://shop.example/A1,shirts|sale',
        'B2,Tee,https://shop.example/B2,"[""sale"",""shirts""]"',
        'C3,Cap,https://shop.example/C3,"sale, shirts"',
        'D4,Bad,https://shop.example/D4,"[shirts, sale]"',
      ].join('\n') + '\n',
    );
    csv(files.variants, [
      ['id', 'item', 'title', 'url', 'sku', 'price', 'inventory_quantity', 'colour'],
      ['A1-M', 'A1', 'Shirt M', 'https://shop.example/A1?m', 'A1-M', '20', '3', 'blue'],
      ['Z9-M', 'Z9', 'No such item', 'https://shop.example/Z9', 'Z9-M', '9', '1', 'red'],
    ]);
    const run = (name: string, file: string, action: string) => runSync({ store, model: model(name, file, action), destination: 'klaviyo', pollMs: 20 });
    expect(await run('categories', files.categories, 'upsertCatalogCategory')).toMatchObject({ added: 2, delivered: 2, failed: 0 });
    expect(await run('items', files.items, 'upsertCatalogItem')).toMatchObject({ added: 4, delivered: 3, failed: 1 });
    expect(await run('variants', files.variants, 'upsertCatalogVariant')).toMatchObject({ added: 2, delivered: 1, failed: 1 });
    const s = emu.snapshot();
    expect(s.catalog.categories.map((c) => [c.external_id, c.attributes.name])).toEqual([
      ['shirts', 'Shirts'],
      ['sale', 'Sale'],
    ]);
    expect(s.catalog.items[0]).toMatchObject({ external_id: 'A1', categories: ['shirts', 'sale'], attributes: { description: '' } });
    expect(s.catalog.items.map((i) => [i.external_id, i.categories])).toEqual([
      ['A1', ['shirts', 'sale']],
      ['B2', ['sale', 'shirts']],
      ['C3', ['sale', 'shirts']],
    ]);
    expect(s.catalog.variants).toEqual([
      expect.objectContaining({
        external_id: 'A1-M',
        item: 'A1',
        attributes: expect.objectContaining({ sku: 'A1-M', price: 20, inventory_quantity: 3, custom_metadata: { colour: 'blue' } }),
      }),
    ]);
    const reasons = (await store.listDeadLetters({ destination: 'klaviyo' })).map((d) => d.reason).sort();
    expect(reasons).toEqual([
      expect.stringMatching(/catalog item \$custom:::\$default:::Z9 does not exist/),
      expect.stringMatching(/categories "\[shirts, sale\]" is in brackets but no JSON array/),
    ]);
  });
});
