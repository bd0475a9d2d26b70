import type { ActionDefinition, PlanWarning } from '../types.js';
import { eventFields, path } from '../fields.js';
import { eventOperation } from '../event.js';
import upsertProfile, { patchOf } from '../upsertProfile/index.js';

const trackEvent: ActionDefinition = {
  name: 'trackEvent',
  title: 'Track Event',
  description: 'Track a user event on their profile.',
  defaultSubscription: 'type = "track" and event != "Order Completed"',
  fields: {
    ...eventFields(path('$.event')),
    patch_properties: {
      ...upsertProfile.fields.patch_properties,
      description:
        "Changes to the existing custom properties of the event's profile (Klaviyo's meta.patch_properties on the event profile): `append` / " +
        '`unappend` ({property: value}) add / remove values of array properties, `unset` (property names) removes properties. ' +
        "Applied after the profile's other attributes; a property named here is not also set from the profile's properties.",
    },
  },
  plan(p, settings, ctx) {
    const warnings: PlanWarning[] = [];
    const op = eventOperation(p, settings, warnings, ctx);
    const patch = patchOf(p.patch_properties, warnings);
    if (patch) {
      const patched = new Set([...Object.keys(patch.append ?? {}), ...Object.keys(patch.unappend ?? {}), ...(patch.unset ?? [])]);
      const props = op.profile.properties;
      const both = Object.keys(props ?? {}).filter((k) => patched.has(k));
      // One profile cannot both set and patch a property in a known order: the patch wins, as for upsertProfile.
      if (props && both.length) {
        const kept = Object.fromEntries(Object.entries(props).filter(([k]) => !patched.has(k)));
        if (Object.keys(kept).length) op.profile.properties = kept;
        else delete op.profile.properties;
        warnings.push({ field: 'profile.properties', message: `left out ${both.join(', ')}: patch_properties changes ${both.length > 1 ? 'them' : 'it'}` });
      }
      op.patchProperties = patch;
    }
    return { operations: [op], warnings };
  },
};
export default trackEvent;
