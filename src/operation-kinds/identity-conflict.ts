/**
 * Identity conflicts (docs/identity.md): the identifiers of one update belong to two Klaviyo profiles (a family's
 * shared phone, a recycled number, an email reused under a second external id). Klaviyo answers 409
 * duplicate_profile (or fails that profile in a bulk job). The policy: deliver the update on the strongest
 * identifier, leaving out the weaker ones that clash, one at a time, and say so on the message. Two people are never
 * merged (the profile Klaviyo names is not patched with the other person's data), and the attempts are bounded
 * (one per identifier), so nothing loops.
 */
import type { ProfileAttributes } from '../klaviyo/operations.js';
import type { KlaviyoErrorItem } from '../klaviyo/errors.js';

/** Strongest first: email names a person, an external id a customer record, a phone a device or a household. */
export const IDENTIFIER_STRENGTH = ['email', 'external_id', 'phone_number', '_kx'] as const;
type Key = (typeof IDENTIFIER_STRENGTH)[number];

/** Whether a bulk import error is an identifier conflict (Klaviyo's duplicate_profile). */
export function isConflict(e: Partial<KlaviyoErrorItem> | undefined): boolean {
  return e?.code === 'duplicate_profile' || /already exists with one of these identifiers/i.test(e?.detail ?? '');
}

/**
 * The profile without its weakest identifier, while a stronger one remains (undefined when only one is left);
 * `left` names it and, when Klaviyo said, the profile that holds one of the clashing identifiers.
 */
export function withoutWeakest(profile: ProfileAttributes, holder?: string): { profile: ProfileAttributes; left: string } | undefined {
  const present = IDENTIFIER_STRENGTH.filter((k) => profile[k]);
  if (present.length < 2) return undefined;
  const weakest: Key = present[present.length - 1];
  const { [weakest]: value, ...rest } = profile;
  return { profile: rest, left: `${weakest}=${value}${holder ? ` (Klaviyo profile ${holder} holds one of the identifiers)` : ''}` };
}

/** The warning recorded on the message: what was left out, and what the update was delivered on. */
export function conflictNote(delivered: ProfileAttributes, left: string[]): string {
  const kept = IDENTIFIER_STRENGTH.filter((k) => delivered[k]).map((k) => `${k}=${delivered[k]}`);
  return (
    `identity conflict: left out ${left.join('; ')}: another person's profile ` +
    `in Klaviyo has it; delivered on ${kept.join(', ')}, the two profiles kept apart`
  );
}
