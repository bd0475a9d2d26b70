import type { ActionDefinition, PlanWarning } from '../types.js';
import { catalogOp, changeFields, productAttributes, productFields, textList } from '../catalog.js';

const upsertCatalogItem: ActionDefinition = {
  name: 'upsertCatalogItem',
  title: 'Upsert Catalog Item',
  description: "Keep Klaviyo's catalog items equal to a warehouse table: added rows created, changed rows updated, deleted rows deleted (bulk jobs).",
  mirrorsRows: true,
  fields: {
    ...changeFields('item'),
    ...productFields('item'),
    categories: {
      label: 'Categories',
      description: "External ids of the item's categories (a list, a JSON array, or text separated by | or ,); the item's links are set to these.",
      type: 'string',
    },
  },
  plan(p) {
    const warnings: PlanWarning[] = [];
    const op = catalogOp('item', p);
    if (op.change === 'delete') return { operations: [op] };
    op.attributes = productAttributes(p, op.change === 'create', warnings);
    const categories = textList(p.categories, 'categories');
    if (categories) op.categories = categories;
    return { operations: [op], warnings };
  },
};
export default upsertCatalogItem;
