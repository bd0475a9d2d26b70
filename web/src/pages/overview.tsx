/** Overview: per destination, what came in and went out over the last hour or day, the queue, and Klaviyo's limits. */
import { useState } from 'preact/hooks';
import { api } from '../api';
import { useApi } from '../hooks';
import { clock, num, perSecond } from '../format';
import { href } from '../router';
import type { DestinationOverview, OverviewWindow } from '../types';
import { Async, Empty } from '../components/states';
import { Table } from '../components/table';
import { TimeChart } from '../components/chart';

const COLORS = {
  received: '#2563eb',
  delivered: '#059669',
  filtered: '#94a3b8',
  retried: '#d97706',
  dead: '#dc2626',
  requests: '#7c3aed',
  rateLimited: '#d97706',
  failed: '#dc2626',
};

export function OverviewPage() {
  const [win, setWin] = useState<OverviewWindow>('1h');
  const state = useApi((signal) => api.overview(win, signal), [win], { pollMs: 10_000 });
  return (
    <>
      <div class="toolbar" role="group" aria-label="Time window">
        {(['1h', '24h'] as const).map((w) => (
          <button key={w} type="button" aria-pressed={win === w} onClick={() => setWin(w)} data-testid={`window-${w}`}>
            Last {w === '1h' ? 'hour' : 'day'}
          </button>
        ))}
      </div>
      <Async state={state} what="the overview">
        {(o) =>
          o.destinations.length === 0 ? (
            <Empty title="No destinations are configured.">Add one under `destinations` in the config file and restart the service.</Empty>
          ) : (
            o.destinations.map((d) => <DestinationPanel key={d.name} d={d} window={o.window} />)
          )
        }
      </Async>
    </>
  );
}

function DestinationPanel({ d, window }: { d: DestinationOverview; window: OverviewWindow }) {
  const labels = d.series.map((p) => clock(p.t));
  const klaviyoLabels = d.klaviyo.map((p) => clock(p.t));
  const quiet = d.series.every((p) => p.received === 0 && p.delivered === 0 && p.filtered === 0);
  const q = d.queue;
  const span = window === '1h' ? 'hour' : 'day';
  // A count: a few dead letters an hour are a rate that rounds to 0.00/s.
  const deadInWindow = d.series.reduce((n, p) => n + p.dead, 0);
  return (
    <section class="panel" aria-labelledby={`dest-${d.name}`} data-testid={`overview-${d.name}`}>
      <h2 id={`dest-${d.name}`}>{d.name}</h2>
      {q.paused ? (
        <p class="problem" role="alert" data-testid="paused">
          Delivery paused since {clock(q.paused.since)}: {q.paused.reason}. Messages stay queued.
        </p>
      ) : null}
      {q.identityConflicts ? (
        <p class="hint" data-testid="identity-conflicts">
          {num(q.identityConflicts.count)} update(s) delivered around an identity conflict; last: {q.identityConflicts.last.note}
        </p>
      ) : null}
      <dl class="tiles">
        <Tile label="Queued" value={num(q.queued)} />
        <Tile label="In flight" value={num(q.leased)} />
        <Tile label="Retrying" value={num(q.retrying)} tone={q.retrying ? 'warn' : undefined} />
        <Tile label="Dead letters" value={num(q.dead)} tone={q.dead ? 'bad' : undefined} link={q.dead ? href('dead-letters') : undefined} />
        <Tile label="Delivered" value={num(q.delivered)} />
        <Tile label="Filtered (no action)" value={num(q.filtered)} testid="tile-filtered" />
        <Tile label="Received (5 min)" value={perSecond(d.rates.last5m.received)} />
        <Tile label="Delivered (5 min)" value={perSecond(d.rates.last5m.delivered)} />
        <Tile label={`Dead-lettered (last ${span})`} value={num(deadInWindow)} tone={deadInWindow ? 'bad' : undefined} testid="tile-dead-window" />
      </dl>
      {quiet ? (
        <Empty title={`No messages in the last ${span}.`}>
          Send events to this service’s <code>/v1/track</code> (or point a Segment / RudderStack SDK at it) with a source’s write key; the charts fill in within
          a minute.
        </Empty>
      ) : null}
      <div class="charts">
        <TimeChart
          kind="line"
          title={`Messages per ${window === '1h' ? 'minute' : '10 minutes'}`}
          labels={labels}
          testid="chart-messages"
          series={[
            { label: 'Received', values: d.series.map((p) => p.received), color: COLORS.received },
            { label: 'Delivered', values: d.series.map((p) => p.delivered), color: COLORS.delivered },
            { label: 'Filtered', values: d.series.map((p) => p.filtered), color: COLORS.filtered },
            { label: 'Retried', values: d.series.map((p) => p.retried), color: COLORS.retried },
            { label: 'Dead-lettered', values: d.series.map((p) => p.dead), color: COLORS.dead },
          ]}
        />
        <TimeChart
          kind="bar"
          title="Klaviyo requests (this process)"
          labels={klaviyoLabels}
          testid="chart-klaviyo"
          series={[
            { label: 'Requests', values: d.klaviyo.map((p) => p.requests), color: COLORS.requests },
            { label: '429s', values: d.klaviyo.map((p) => p.rateLimited), color: COLORS.rateLimited },
            { label: 'Failed', values: d.klaviyo.map((p) => p.failed), color: COLORS.failed },
          ]}
        />
      </div>
      <h3>Batch sizes</h3>
      <p data-testid="batch-sizes">
        {d.batchSizes.requests ? (
          <>
            {num(d.batchSizes.requests)} {d.batchSizes.requests === 1 ? 'request' : 'requests'} in the window carried {num(d.batchSizes.avgItems, 1)} items on
            average, at most {num(d.batchSizes.maxItems)}.
          </>
        ) : (
          'No Klaviyo requests from this process in the window.'
        )}
      </p>
      <RateLimits d={d} />
    </section>
  );
}

function Tile({ label, value, tone, link, testid }: { label: string; value: string; tone?: 'warn' | 'bad'; link?: string; testid?: string }) {
  return (
    <div class={`tile ${tone ?? ''}`} data-testid={testid}>
      <dt>{label}</dt>
      <dd>{link ? <a href={link}>{value}</a> : value}</dd>
    </div>
  );
}

function RateLimits({ d }: { d: DestinationOverview }) {
  if (!d.rateLimits.length) return <Empty title="No rate-limit state yet.">Headroom per Klaviyo endpoint appears once this process has sent requests.</Empty>;
  return (
    <Table
      caption="Rate-limit headroom per Klaviyo endpoint (this process, now)"
      columns={['Endpoint', 'Tier', 'Burst (1 s)', 'Steady (60 s)', 'Headroom', 'Paused']}
    >
      {d.rateLimits.map((r) => (
        <tr key={r.endpoint}>
          <th scope="row">{r.endpoint}</th>
          <td>{r.tier}</td>
          <td>
            {r.burst.used} / {r.burst.limit}
          </td>
          <td>
            {r.steady.used} / {r.steady.limit}
          </td>
          <td>
            <meter min={0} max={1} low={0.2} high={0.5} optimum={1} value={r.headroom} aria-label={`${r.endpoint} headroom`} /> {Math.round(r.headroom * 100)} %
          </td>
          <td>{r.pausedMs > 0 ? <span class="badge warn">{Math.ceil(r.pausedMs / 1000)} s after a 429</span> : 'no'}</td>
        </tr>
      ))}
    </Table>
  );
}
