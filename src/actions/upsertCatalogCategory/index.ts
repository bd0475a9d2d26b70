import { PayloadError, type ActionDefinition } from '../types.js';
import { catalogOp, changeFields } from '../catalog.js';

const upsertCatalogCategory: ActionDefinition = {
  name: 'upsertCatalogCategory',
  title: 'Upsert Catalog Category',
  description: "Keep Klaviyo's catalog categories equal to a warehouse table (items name their categories: upsertCatalogItem's categories).",
  mirrorsRows: true,
  fields: {
    ...changeFields('category'),
    name: { label: 'Name', description: 'The category name.', type: 'string' },
  },
  plan(p) {
    const op = catalogOp('category', p);
    if (op.change === 'delete') return { operations: [op] };
    if (p.name === undefined || p.name === '') {
      if (op.change === 'create') throw new PayloadError('name', 'name is required to create a catalog category');
      return { operations: [] };
    }
    op.attributes = { name: String(p.name) };
    return { operations: [op] };
  },
};
export default upsertCatalogCategory;
