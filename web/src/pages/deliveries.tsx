/** Deliveries: recent Klaviyo requests, filtered by action, status and profile identifier. */
import { useState } from 'preact/hooks';
import { api } from '../api';
import { useApi, useDebounced } from '../hooks';
import type { AdminConfig } from '../types';
import { Async, Empty } from '../components/states';
import { DeliveryTable } from '../components/delivery-table';
import { DestinationFilter } from '../components/destination-filter';
import { SearchField } from '../components/search-field';

const ACTIONS = [
  'upsertProfile',
  'trackEvent',
  'orderCompleted',
  'addProfileToList',
  'removeProfileFromList',
  'subscribeProfile',
  'unsubscribeProfile',
  'removeProfile',
];

export function DeliveriesPage({ config }: { config: AdminConfig }) {
  const [destination, setDestination] = useState('');
  const [action, setAction] = useState('');
  const [status, setStatus] = useState('');
  const [profileInput, setProfile] = useState('');
  const profile = useDebounced(profileInput.trim());
  const state = useApi((signal) => api.deliveries({ destination, action, status, profile, limit: 200 }, signal), [destination, action, status, profile], {
    pollMs: 5000,
  });
  const actions = [...new Set([...ACTIONS, ...config.destinations.flatMap((d) => d.subscriptions.map((s) => s.partnerAction))])];
  const filtered = Boolean(destination || action || status || profile);

  return (
    <>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <DestinationFilter config={config} value={destination} onChange={setDestination} />
        <label>
          Action
          <select value={action} onChange={(e) => setAction((e.target as HTMLSelectElement).value)} data-testid="deliveries-action">
            <option value="">All</option>
            {actions.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)} data-testid="deliveries-status">
            <option value="">All</option>
            <option value="ok">ok</option>
            <option value="retry">retry (429, 5xx, network)</option>
            <option value="failed">failed (refused by Klaviyo)</option>
          </select>
        </label>
        <SearchField label="Profile" value={profileInput} onInput={setProfile} placeholder="email, phone or external id" testId="deliveries-profile" />
      </form>
      <Async state={state} what="deliveries">
        {(d) =>
          d.deliveries.length === 0 ? (
            <Empty title={filtered ? 'No request matches these filters.' : 'No Klaviyo requests yet.'}>
              {filtered
                ? 'Loosen a filter: the profile filter matches an email, phone, external id or Klaviyo id exactly as sent.'
                : 'Requests appear once this process delivers messages. With separate ingest and worker processes, open a worker’s dashboard.'}
            </Empty>
          ) : (
            <DeliveryTable deliveries={d.deliveries} caption={`Newest Klaviyo requests first (${d.deliveries.length}); refreshed every 5 s`} />
          )
        }
      </Async>
    </>
  );
}
