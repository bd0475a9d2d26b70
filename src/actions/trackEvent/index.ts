import type { ActionDefinition, PlanWarning } from '../types.js';
import { eventFields, path } from '../fields.js';
import { eventOperation } from '../event.js';

const trackEvent: ActionDefinition = {
  name: 'trackEvent',
  title: 'Track Event',
  description: 'Track a user event on their profile.',
  defaultSubscription: 'type = "track" and event != "Order Completed"',
  fields: eventFields(path('$.event')),
  plan(p, settings, ctx) {
    const warnings: PlanWarning[] = [];
    return { operations: [eventOperation(p, settings, warnings, ctx)], warnings };
  },
};
export default trackEvent;
