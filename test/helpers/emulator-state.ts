/** What reached Klaviyo, read from the emulator's state (GET /__emulator/state), in end-to-end tests. */
import { expect } from 'vitest';
import { until } from './until.js';

/** A reader of the state of the emulator at `url`. */
export const emulatorState = (url: string) => async () => (await fetch(`${url}/__emulator/state`)).json() as Promise<any>;
/** The profile whose external_id is `externalId`. */
export const profileOf = (s: any, externalId: string) => s.profiles.find((p: any) => p.attributes.external_id === externalId);
/** The metric names of the profile's events, sorted ([] for no profile). */
export const metricsOf = (s: any, p: any): string[] =>
  p
    ? s.events
        .filter((e: any) => e.profile_id === p.id)
        .map((e: any) => e.metric)
        .sort()
    : [];

/**
 * Once the profile of `userId` (its external_id) has as many events as `metrics`: it has `attributes`, and its events
 * are exactly `metrics`. Resolves to the state and the profile.
 */
export async function expectDelivered(read: () => Promise<any>, userId: string, attributes: Record<string, unknown>, metrics: string[]) {
  const state = await until(read, (x) => metricsOf(x, profileOf(x, userId)).length >= metrics.length);
  const profile = profileOf(state, userId);
  expect(profile?.attributes).toMatchObject(attributes);
  expect(metricsOf(state, profile)).toEqual(metrics);
  return { state, profile };
}
