#!/usr/bin/env node
/**
 * Cut a slice of Klaviyo's whole OpenAPI spec into openapi/<name>.json: the given paths (every method) and the
 * components they reach through $ref, so the emulator and the tests validate with no ../shared. Run once per new
 * endpoint; the slices are committed.
 *   node scripts/openapi-slice.mjs ../shared/klaviyo-openapi/stable-2026-07-15.json push_tokens /api/push-tokens
 */
import { readFileSync, writeFileSync } from 'node:fs';

const [specFile, name, ...paths] = process.argv.slice(2);
if (!specFile || !name || !paths.length) throw new Error('usage: openapi-slice.mjs <spec.json> <slice name> <path…>');
const spec = JSON.parse(readFileSync(specFile, 'utf8'));
const out = { ...spec, paths: {}, components: { securitySchemes: spec.components.securitySchemes, schemas: {}, responses: {} } };
const seen = new Set();
const reach = (node) => {
  for (const m of JSON.stringify(node).matchAll(/"#\/components\/(\w+)\/([^"]+)"/g)) {
    const [, section, key] = m;
    if (seen.has(`${section}/${key}`)) continue;
    seen.add(`${section}/${key}`);
    out.components[section][key] = spec.components[section][key];
    reach(spec.components[section][key]);
  }
};
for (const p of paths) {
  if (!spec.paths[p]) throw new Error(`no path ${p} in ${specFile}`);
  out.paths[p] = spec.paths[p];
  reach(spec.paths[p]);
}
out.tags = (spec.tags ?? []).filter((t) => JSON.stringify(out.paths).includes(`"${t.name}"`));
writeFileSync(new URL(`../openapi/${name}.json`, import.meta.url), JSON.stringify(out, null, 2) + '\n');
console.log(`openapi/${name}.json: ${paths.length} paths, ${Object.keys(out.components.schemas).length} schemas`);
