/** What became of one message: per destination its outcome, matched actions, payloads, requests and deliveries. */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { useApi } from '../hooks';
import { time } from '../format';
import type { EventDetail, PreviewResult } from '../types';
import { Async, Empty } from './states';
import { JsonBlock } from './json-block';
import { DeliveryTable } from './delivery-table';
import { FieldProblem } from './field-problem';

/** Statuses that no longer change: `unknown` means the queue no longer has it (discarded, or delivered elsewhere). */
const SETTLED = new Set(['delivered', 'dead', 'filtered', 'unknown']);
const POLL_MS = 2000;
const MAX_POLL_MS = 30_000;

export function EventDetailView({ id }: { id: string }) {
  const [settled, setSettled] = useState(false);
  const [failures, setFailures] = useState(0);
  const [gone, setGone] = useState(false);
  // Outcomes settle within moments: keep asking only while something is still on its way. A message that is not
  // (or no longer) there stops the polling; other failures are asked about less and less often.
  const pollMs = settled || gone ? undefined : Math.min(POLL_MS * 2 ** failures, MAX_POLL_MS);
  const state = useApi((signal) => api.event(id, signal), [id], { pollMs });
  useEffect(() => {
    setSettled(false);
    setFailures(0);
    setGone(false);
  }, [id]);
  useEffect(() => setSettled(Boolean(state.data?.destinations.every((d) => SETTLED.has(d.outcome.status)))), [state.data]);
  useEffect(() => {
    if (!state.error) return setFailures(0);
    if (state.error instanceof ApiError && state.error.status === 404) setGone(true);
    else setFailures((n) => n + 1);
  }, [state.error]);
  if (gone || (state.error instanceof ApiError && state.error.status === 404))
    return (
      <div data-testid="live-not-found">
        <Empty title={`Message ${id} is not among the recent ones.`}>
          This process keeps the last 500 messages in memory, and forgets them when it restarts. Its delivery may still be found on Deliveries or Dead letters.
        </Empty>
      </div>
    );
  return (
    <div class="detail" data-testid="live-detail">
      <Async state={state} what={`message ${id}`}>
        {(d) => <Detail d={d} />}
      </Async>
      {state.error && pollMs ? (
        <p class="hint" data-testid="live-detail-retry">
          Trying again in {Math.round(pollMs / 1000)} s.
        </p>
      ) : null}
    </div>
  );
}

function Detail({ d }: { d: EventDetail }) {
  return (
    <>
      {d.destinations.length === 0 ? <p>No destination receives messages from source “{d.event.source}”.</p> : null}
      {d.destinations.map((dest) => (
        <section key={dest.name} class="dest-detail" aria-label={`In destination ${dest.name}`}>
          <h3>
            {dest.name}{' '}
            <span class={`badge ${dest.outcome.status}`} data-testid="live-outcome">
              {dest.outcome.status}
            </span>{' '}
            {dest.outcome.at ? <small>at {time(dest.outcome.at)}</small> : null}
          </h3>
          {dest.outcome.warning ? (
            <p class="hint" data-testid="live-warning">
              {dest.outcome.warning}
            </p>
          ) : null}
          {dest.outcome.error ? (
            <p class="problem">{typeof dest.outcome.error === 'string' ? dest.outcome.error : JSON.stringify(dest.outcome.error)}</p>
          ) : null}
          {dest.preview ? <PreviewView p={dest.preview} /> : <p class="hint">No preview: destination “{dest.name}” is not configured in this process.</p>}
          <h4>Klaviyo requests that carried it</h4>
          {dest.deliveries.length ? (
            <DeliveryTable deliveries={dest.deliveries} caption={`Requests to Klaviyo for this message (${dest.name})`} />
          ) : (
            <p class="hint">None yet{dest.outcome.status === 'filtered' ? ': no action matched.' : '.'}</p>
          )}
        </section>
      ))}
      <details>
        <summary>Stored message</summary>
        <JsonBlock value={d.message} />
      </details>
    </>
  );
}

/** The preview engine's answer for one message: used by Live events and the Mapping tester. */
export function PreviewView({ p }: { p: PreviewResult }) {
  return (
    <div class="preview">
      {p.error ? <FieldProblem error={p.error} /> : null}
      {p.warnings?.map((w, i) => (
        <FieldProblem key={i} error={w} warning />
      ))}
      <h4>Actions triggered</h4>
      {p.actions.length === 0 ? <p class="hint">{p.error ? 'None: fix the error above first.' : 'No subscription matched this message.'}</p> : null}
      {p.actions.map((a, i) => (
        <div key={i} class="action" data-testid="action">
          <p>
            <strong data-testid="action-name">{a.action}</strong>
          </p>
          {a.error ? <FieldProblem error={a.error} /> : null}
          {a.warnings?.map((w, j) => (
            <FieldProblem key={j} error={w} warning />
          ))}
          <JsonBlock value={a.payload} label="Mapped payload" testid="action-payload" />
        </div>
      ))}
      <h4>Klaviyo requests it becomes</h4>
      {p.requests.length === 0 ? <p class="hint">None.</p> : null}
      {p.requests.map((r, i) => (
        <JsonBlock key={i} value={r.body} label={`${r.method} ${r.path}`} testid="klaviyo-request" />
      ))}
    </div>
  );
}
