/**
 * The Klaviyo endpoints this destination uses, with their rate-limit tier and per-request item limit.
 * Tiers and limits come from the 2026-07-15 OpenAPI spec (`x-klaviyo-ratelimit`) and Klaviyo's docs.
 * The client's limiter and the emulator both read this table, so they can never disagree.
 */
/** Klaviyo's named tiers, and `S15`: S's burst with a 15/min steady (the custom-objects bulk endpoint; Klaviyo names no tier for it). */
export type Tier = 'XS' | 'S' | 'S15' | 'M' | 'L' | 'XL';

/** Requests per burst window (1 s) and per steady window (60 s). */
export const TIERS: Record<Tier, { burst: number; steady: number }> = {
  XS: { burst: 1, steady: 15 },
  S: { burst: 3, steady: 60 },
  S15: { burst: 3, steady: 15 },
  M: { burst: 10, steady: 150 },
  L: { burst: 75, steady: 750 },
  XL: { burst: 350, steady: 3500 },
};

export interface Endpoint {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Path template as in the spec, e.g. `/api/lists/{id}/relationships/profiles`. */
  path: string;
  tier: Tier;
  /** Most items one request may carry (profiles, events, profile ids), where the endpoint takes many. */
  maxItems?: number;
  /** Largest body Klaviyo accepts, in bytes. */
  maxBytes?: number;
}

export const ENDPOINTS = {
  createEvent: { method: 'POST', path: '/api/events', tier: 'XL', maxItems: 1, maxBytes: 5_000_000 },
  bulkCreateEvents: { method: 'POST', path: '/api/event-bulk-create-jobs', tier: 'M', maxItems: 1000, maxBytes: 5_000_000 },
  createOrUpdateProfile: { method: 'POST', path: '/api/profile-import', tier: 'L', maxItems: 1, maxBytes: 100_000 },
  updateProfile: { method: 'PATCH', path: '/api/profiles/{id}', tier: 'L', maxItems: 1, maxBytes: 100_000 },
  getProfiles: { method: 'GET', path: '/api/profiles', tier: 'L', maxItems: 100 },
  bulkImportProfiles: { method: 'POST', path: '/api/profile-bulk-import-jobs', tier: 'M', maxItems: 10_000, maxBytes: 5_000_000 },
  getBulkImportJob: { method: 'GET', path: '/api/profile-bulk-import-jobs/{id}', tier: 'M' },
  getBulkImportErrors: { method: 'GET', path: '/api/profile-bulk-import-jobs/{id}/import-errors', tier: 'M' },
  bulkSubscribe: { method: 'POST', path: '/api/profile-subscription-bulk-create-jobs', tier: 'L', maxItems: 1000 },
  bulkUnsubscribe: { method: 'POST', path: '/api/profile-subscription-bulk-delete-jobs', tier: 'L', maxItems: 100 },
  addProfilesToList: { method: 'POST', path: '/api/lists/{id}/relationships/profiles', tier: 'M', maxItems: 1000 },
  removeProfilesFromList: { method: 'DELETE', path: '/api/lists/{id}/relationships/profiles', tier: 'M', maxItems: 1000 },
  createList: { method: 'POST', path: '/api/lists', tier: 'M' },
  getLists: { method: 'GET', path: '/api/lists', tier: 'L', maxItems: 10 },
  getList: { method: 'GET', path: '/api/lists/{id}', tier: 'L' },
  requestProfileDeletion: { method: 'POST', path: '/api/data-privacy-deletion-jobs', tier: 'S', maxItems: 1 },
  getAccounts: { method: 'GET', path: '/api/accounts', tier: 'XS' },
  createPushToken: { method: 'POST', path: '/api/push-tokens', tier: 'L', maxItems: 1 },
  // Catalog bulk jobs (≤100 items a job), and their polls.
  catalogItemBulkCreate: { method: 'POST', path: '/api/catalog-item-bulk-create-jobs', tier: 'L', maxItems: 100, maxBytes: 5_000_000 },
  getCatalogItemBulkCreateJob: { method: 'GET', path: '/api/catalog-item-bulk-create-jobs/{id}', tier: 'L' },
  catalogItemBulkUpdate: { method: 'POST', path: '/api/catalog-item-bulk-update-jobs', tier: 'L', maxItems: 100, maxBytes: 5_000_000 },
  getCatalogItemBulkUpdateJob: { method: 'GET', path: '/api/catalog-item-bulk-update-jobs/{id}', tier: 'L' },
  catalogItemBulkDelete: { method: 'POST', path: '/api/catalog-item-bulk-delete-jobs', tier: 'L', maxItems: 100, maxBytes: 5_000_000 },
  getCatalogItemBulkDeleteJob: { method: 'GET', path: '/api/catalog-item-bulk-delete-jobs/{id}', tier: 'L' },
  catalogVariantBulkCreate: { method: 'POST', path: '/api/catalog-variant-bulk-create-jobs', tier: 'L', maxItems: 100, maxBytes: 5_000_000 },
  getCatalogVariantBulkCreateJob: { method: 'GET', path: '/api/catalog-variant-bulk-create-jobs/{id}', tier: 'L' },
  catalogVariantBulkUpdate: { method: 'POST', path: '/api/catalog-variant-bulk-update-jobs', tier: 'L', maxItems: 100, maxBytes: 5_000_000 },
  getCatalogVariantBulkUpdateJob: { method: 'GET', path: '/api/catalog-variant-bulk-update-jobs/{id}', tier: 'L' },
  catalogVariantBulkDelete: { method: 'POST', path: '/api/catalog-variant-bulk-delete-jobs', tier: 'L', maxItems: 100, maxBytes: 5_000_000 },
  getCatalogVariantBulkDeleteJob: { method: 'GET', path: '/api/catalog-variant-bulk-delete-jobs/{id}', tier: 'L' },
  catalogCategoryBulkCreate: { method: 'POST', path: '/api/catalog-category-bulk-create-jobs', tier: 'L', maxItems: 100, maxBytes: 5_000_000 },
  getCatalogCategoryBulkCreateJob: { method: 'GET', path: '/api/catalog-category-bulk-create-jobs/{id}', tier: 'L' },
  catalogCategoryBulkUpdate: { method: 'POST', path: '/api/catalog-category-bulk-update-jobs', tier: 'L', maxItems: 100, maxBytes: 5_000_000 },
  getCatalogCategoryBulkUpdateJob: { method: 'GET', path: '/api/catalog-category-bulk-update-jobs/{id}', tier: 'L' },
  catalogCategoryBulkDelete: { method: 'POST', path: '/api/catalog-category-bulk-delete-jobs', tier: 'L', maxItems: 100, maxBytes: 5_000_000 },
  getCatalogCategoryBulkDeleteJob: { method: 'GET', path: '/api/catalog-category-bulk-delete-jobs/{id}', tier: 'L' },
  // Custom objects: data sources, found by title (no filter: paged), and their records by bulk job (≤500, 4 MB; no poll).
  getDataSources: { method: 'GET', path: '/api/data-sources', tier: 'S', maxItems: 100 },
  createDataSource: { method: 'POST', path: '/api/data-sources', tier: 'S' },
  bulkCreateDataSourceRecords: { method: 'POST', path: '/api/data-source-record-bulk-create-jobs', tier: 'S15', maxItems: 500, maxBytes: 4_000_000 },
} as const satisfies Record<string, Endpoint>;

export type EndpointName = keyof typeof ENDPOINTS;

/** Find which endpoint a concrete method + path belongs to (`/api/lists/Ab12/relationships/profiles` → addProfilesToList). */
export function endpointFor(method: string, path: string): EndpointName | undefined {
  const clean = path.split('?')[0].replace(/(?<!\/)\/+$/, '');
  for (const [name, e] of Object.entries(ENDPOINTS) as [EndpointName, Endpoint][]) {
    if (e.method !== method.toUpperCase()) continue;
    const re = new RegExp('^' + e.path.replace(/\{[^{}]+\}/g, '[^/]+') + '$');
    if (re.test(clean)) return name;
  }
  return undefined;
}
