/** The models and audiences a configuration declares, ready to sync, each with its destination. */
import type { Config } from '../config/index.js';
import { fromAudience, fromModel, type SyncModel } from './model.js';

export interface ConfiguredModel {
  /** The name users know it by (an audience's is its list name). */
  label: string;
  model: SyncModel;
  destination: string;
  every?: string;
}

export function configuredModels(config: Config): ConfiguredModel[] {
  const first = config.destinations[0].name;
  return [
    ...config.models.map((m) => ({ label: m.name, model: fromModel(m), destination: m.destination ?? first, every: m.every })),
    ...config.audiences.map((a) => ({ label: a.name, model: fromAudience(a), destination: a.destination ?? first, every: a.every })),
  ];
}

export { runSync, SyncBusyError, type SyncSummary } from './run.js';
export { schedule } from './schedule.js';
