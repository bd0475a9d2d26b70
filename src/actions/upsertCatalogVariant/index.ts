import { PayloadError, type ActionDefinition, type PlanWarning } from '../types.js';
import { catalogOp, changeFields, productAttributes, productFields } from '../catalog.js';

const upsertCatalogVariant: ActionDefinition = {
  name: 'upsertCatalogVariant',
  title: 'Upsert Catalog Variant',
  description: "Keep Klaviyo's catalog variants equal to a warehouse table; each names its item by the item's external id.",
  mirrorsRows: true,
  fields: {
    ...changeFields('variant'),
    item: { label: 'Item', description: "The external id of the variant's catalog item (required to create).", type: 'string' },
    sku: { label: 'SKU', description: 'The SKU.', type: 'string' },
    inventory_quantity: { label: 'Inventory Quantity', description: 'How many are in stock.', type: 'number' },
    inventory_policy: { label: 'Inventory Policy', description: '1: hidden from feeds when out of stock; 0 or 2: shown.', type: 'integer' },
    ...productFields('variant'),
  },
  plan(p) {
    const warnings: PlanWarning[] = [];
    const op = catalogOp('variant', p);
    if (op.change === 'delete') return { operations: [op] };
    const create = op.change === 'create';
    const a = productAttributes(p, create, warnings);
    if (p.sku !== undefined) a.sku = String(p.sku);
    if (p.inventory_quantity !== undefined) a.inventory_quantity = p.inventory_quantity;
    if (p.inventory_policy !== undefined) {
      if (![0, 1, 2].includes(p.inventory_policy)) throw new PayloadError('inventory_policy', 'inventory_policy must be 0, 1 or 2');
      a.inventory_policy = p.inventory_policy;
    }
    if (create) {
      for (const k of ['sku', 'price', 'inventory_quantity'] as const)
        if (a[k] === undefined) throw new PayloadError(k, `${k} is required to create a catalog variant`);
      if (!p.item) throw new PayloadError('item', "item (the external id of the variant's catalog item) is required to create a variant");
    }
    op.attributes = a;
    if (p.item) op.item = String(p.item);
    return { operations: [op], warnings };
  },
};
export default upsertCatalogVariant;
