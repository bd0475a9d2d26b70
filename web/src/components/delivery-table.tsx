/** Klaviyo requests as a table; a failed one expands to Klaviyo's error detail. */
import { useState } from 'preact/hooks';
import { num, time } from '../format';
import type { Delivery } from '../types';
import { JsonBlock } from './json-block';
import { Table } from './table';

export function DeliveryTable({ deliveries, caption }: { deliveries: Delivery[]; caption: string }) {
  return (
    <Table caption={`${caption}`} columns={['Time', 'Status', 'Request', 'Items', 'Latency', 'Actions', 'Profiles']} class="deliveries">
      {deliveries.map((d) => (
        <DeliveryRow key={d.id} d={d} />
      ))}
    </Table>
  );
}

function DeliveryRow({ d }: { d: Delivery }) {
  const [open, setOpen] = useState(false);
  const detailId = `delivery-${d.id}-error`;
  return (
    <>
      <tr data-testid="delivery-row" data-status={d.status}>
        <td>{time(d.at)}</td>
        <td>
          <span class={`badge ${d.status}`}>{d.status}</span> {d.httpStatus ?? 'no answer'}
          {d.error ? (
            <>
              {' '}
              <button
                type="button"
                class="small"
                aria-expanded={open}
                aria-controls={detailId}
                onClick={() => setOpen(!open)}
                data-testid="delivery-error-toggle"
              >
                {open ? 'Hide error' : 'Why?'}
              </button>
            </>
          ) : null}
        </td>
        <td>
          <code>
            {d.method} {d.path}
          </code>
          <br />
          <small>{d.endpoint}</small>
        </td>
        <td>{num(d.items)}</td>
        <td>{num(d.durationMs)} ms</td>
        <td>{d.actions.join(', ')}</td>
        <td class="wrap">
          {d.profiles.slice(0, 3).join(', ')}
          {d.profiles.length > 3 ? ` +${d.profiles.length - 3}` : ''}
        </td>
      </tr>
      {d.error ? (
        <tr id={detailId} hidden={!open} class="detail-row">
          <td colSpan={7}>
            <p class="problem" data-testid="delivery-error">
              {d.error.message}
            </p>
            {(d.error.errors ?? []).map((e, i) => (
              <p key={i} class="klaviyo-error" data-testid="klaviyo-error">
                <strong>{e.code ?? e.status}</strong> {e.title} {e.detail} {e.source?.pointer ? <code>{e.source.pointer}</code> : null}
              </p>
            ))}
            <p class="hint">Messages: {d.messageIds.join(', ') || '—'}</p>
            <details>
              <summary>Raw error</summary>
              <JsonBlock value={d.error} />
            </details>
          </td>
        </tr>
      ) : null}
    </>
  );
}
