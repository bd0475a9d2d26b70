/**
 * The API key's health: which scopes each endpoint needs (Klaviyo's `x-klaviyo-scopes`, facts §2), the check run
 * once when delivery starts (GET /api/accounts, then the read scopes), and the sentence that tells a user what to fix.
 */
import type { EndpointName } from './endpoints.js';
import type { KlaviyoTransport } from './request.js';
import { AuthError } from './errors.js';

export const SCOPES: Record<EndpointName, readonly string[]> = {
  createEvent: ['events:write'],
  bulkCreateEvents: ['events:write'],
  createOrUpdateProfile: ['profiles:write'],
  updateProfile: ['profiles:write'],
  getProfiles: ['profiles:read'],
  bulkImportProfiles: ['profiles:write', 'lists:write'],
  getBulkImportJob: ['profiles:read', 'lists:read'],
  getBulkImportErrors: ['profiles:read'],
  bulkSubscribe: ['lists:write', 'profiles:write', 'subscriptions:write'],
  bulkUnsubscribe: ['lists:write', 'profiles:write', 'subscriptions:write'],
  addProfilesToList: ['lists:write', 'profiles:write'],
  removeProfilesFromList: ['lists:write', 'profiles:write'],
  createList: ['lists:write'],
  getLists: ['lists:read'],
  getList: ['lists:read'],
  requestProfileDeletion: ['data-privacy:write'],
  getAccounts: ['accounts:read'],
  createPushToken: ['profiles:write', 'push-tokens:write'],
  catalogItemBulkCreate: ['catalogs:write'],
  getCatalogItemBulkCreateJob: ['catalogs:read'],
  catalogItemBulkUpdate: ['catalogs:write'],
  getCatalogItemBulkUpdateJob: ['catalogs:read'],
  catalogItemBulkDelete: ['catalogs:write'],
  getCatalogItemBulkDeleteJob: ['catalogs:read'],
  catalogVariantBulkCreate: ['catalogs:write'],
  getCatalogVariantBulkCreateJob: ['catalogs:read'],
  catalogVariantBulkUpdate: ['catalogs:write'],
  getCatalogVariantBulkUpdateJob: ['catalogs:read'],
  catalogVariantBulkDelete: ['catalogs:write'],
  getCatalogVariantBulkDeleteJob: ['catalogs:read'],
  catalogCategoryBulkCreate: ['catalogs:write'],
  getCatalogCategoryBulkCreateJob: ['catalogs:read'],
  catalogCategoryBulkUpdate: ['catalogs:write'],
  getCatalogCategoryBulkUpdateJob: ['catalogs:read'],
  catalogCategoryBulkDelete: ['catalogs:write'],
  getCatalogCategoryBulkDeleteJob: ['catalogs:read'],
  getDataSources: ['custom-objects:read'],
  createDataSource: ['custom-objects:write'],
  bulkCreateDataSourceRecords: ['custom-objects:write'],
};

/**
 * Endpoints of features a key may well not have the scope for (push tokens, catalogs, custom objects): a 403 there
 * fails those operations, naming the scope, and leaves the destination delivering everything else.
 */
export const OPTIONAL_SCOPE_ENDPOINTS: ReadonlySet<EndpointName> = new Set<EndpointName>([
  'createPushToken',
  ...(Object.keys(SCOPES) as EndpointName[]).filter((e) => e.startsWith('catalog') || e.startsWith('getCatalog')),
  'getDataSources',
  'createDataSource',
  'bulkCreateDataSourceRecords',
]);

/** Every scope some endpoint of this destination needs. */
export const REQUIRED_SCOPES = [
  ...new Set((Object.entries(SCOPES) as [EndpointName, readonly string[]][]).filter(([e]) => !OPTIONAL_SCOPE_ENDPOINTS.has(e)).flatMap(([, s]) => s)),
].sort();

/** Scopes only the optional features need (push tokens, catalogs, custom objects). */
export const OPTIONAL_SCOPES = [...new Set([...OPTIONAL_SCOPE_ENDPOINTS].flatMap((e) => SCOPES[e]))].filter((s) => !REQUIRED_SCOPES.includes(s)).sort();

export type KeyCheck = { ok: true; account?: string } | { ok: false; status: number; missingScopes: string[]; message: string };

/** Read-only requests, one per read scope, that cost nothing and change nothing. */
const PROBES: Array<{ scope: string; endpoint: EndpointName; path: string }> = [
  { scope: 'accounts:read', endpoint: 'getAccounts', path: '/api/accounts' },
  { scope: 'profiles:read', endpoint: 'getProfiles', path: '/api/profiles?page[size]=1' },
  { scope: 'lists:read', endpoint: 'getLists', path: '/api/lists' },
];

/** What to tell the user about a 401/403 Klaviyo answered on `endpoint` (the pause reason). */
export function authProblem(err: AuthError, endpoint?: EndpointName): string {
  if (err.status === 403) {
    const scopes = endpoint ? SCOPES[endpoint].join(', ') : REQUIRED_SCOPES.join(', ');
    return (
      `the Klaviyo API key lacks a scope${endpoint ? ` for ${endpoint}` : ''} (403: ${err.detail}); ` +
      `give the key ${scopes}${endpoint ? '' : ' (all of them)'} in Klaviyo → Settings → API keys`
    );
  }
  return (
    `Klaviyo refused the API key (401: ${err.detail}): it is wrong or revoked; ` +
    `set the destination's apiKey (or KLAVIYO_API_KEY) to a private key (pk_…) and restart`
  );
}

/**
 * GET /api/accounts, then the other read scopes: 401 → the key is wrong; 403 → the scopes it lacks. Write scopes
 * cannot be tested without writing: a 403 on one during delivery pauses the destination naming it. Errors other
 * than 401/403 (Klaviyo unreachable) are thrown: they say nothing about the key.
 */
export async function checkApiKey(transport: KlaviyoTransport): Promise<KeyCheck> {
  const missing: string[] = [];
  let account: string | undefined;
  for (const probe of PROBES) {
    try {
      const res = await transport.send({ endpoint: probe.endpoint, method: 'GET', path: probe.path });
      if (probe.endpoint === 'getAccounts') account = res.body?.data?.[0]?.attributes?.contact_information?.organization_name ?? res.body?.data?.[0]?.id;
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      if (err.status !== 403) return { ok: false, status: err.status ?? 401, missingScopes: [], message: authProblem(err) };
      missing.push(probe.scope);
    }
  }
  if (!missing.length) return { ok: true, ...(account ? { account } : {}) };
  return {
    ok: false,
    status: 403,
    missingScopes: missing,
    message: `the Klaviyo API key lacks ${missing.join(', ')}; this destination needs ${REQUIRED_SCOPES.join(', ')}, and ${OPTIONAL_SCOPES.join(', ')} for push tokens, catalogs and custom objects (Klaviyo → Settings → API keys)`,
  };
}
