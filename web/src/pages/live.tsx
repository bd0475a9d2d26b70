/** Live events: the newest incoming messages, followed over server-sent events; each row expands to its detail. */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { follow, type StreamState } from '../sse';
import { useApi, useDebounced } from '../hooks';
import { time, who } from '../format';
import { href } from '../router';
import type { AdminConfig, EventSummary } from '../types';
import { Async, Empty } from '../components/states';
import { EventDetailView } from '../components/event-detail';

const KEEP = 500;

function matches(e: EventSummary, destination: string, q: string): boolean {
  if (destination && !e.destinations.includes(destination)) return false;
  if (!q) return true;
  const needle = q.toLowerCase();
  return [e.id, e.userId, e.anonymousId, e.event, e.email].some((v) => v?.toLowerCase().includes(needle));
}

export function LivePage({ config, openId }: { config: AdminConfig; openId: string | null }) {
  const [destination, setDestination] = useState('');
  const [qInput, setQ] = useState('');
  const q = useDebounced(qInput.trim());
  const initial = useApi((signal) => api.events({ destination, q, limit: 100 }, signal), [destination, q]);
  const [arrived, setArrived] = useState<EventSummary[]>([]);
  const [stream, setStream] = useState<StreamState>('connecting');
  const [open, setOpen] = useState<Set<string>>(() => new Set(openId ? [openId] : []));

  useEffect(() => {
    if (openId) setOpen((s) => new Set(s).add(openId));
  }, [openId]);

  // A new filter starts from the server's answer again.
  useEffect(() => setArrived([]), [destination, q]);

  useEffect(() => {
    const ctl = new AbortController();
    void follow(
      '/admin/events/stream',
      (e) => {
        if (e.event !== 'message') return;
        try {
          const summary = JSON.parse(e.data) as EventSummary;
          setArrived((list) => [summary, ...list].slice(0, KEEP));
        } catch {
          /* a malformed event is skipped; the next one is independent */
        }
      },
      setStream,
      ctl.signal,
    );
    return () => ctl.abort();
  }, []);

  const events = useMemo(() => {
    const seen = new Set<string>();
    const out: EventSummary[] = [];
    for (const e of [...arrived.filter((x) => matches(x, destination, q)), ...(initial.data?.events ?? [])]) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      out.push(e);
    }
    return out.slice(0, KEEP);
  }, [arrived, initial.data, destination, q]);

  const toggle = (id: string) =>
    setOpen((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });

  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()} role="search">
        <label>
          Search
          <input type="search" value={qInput} onInput={(e) => setQ((e.target as HTMLInputElement).value)} placeholder="message id, user id, event, email" data-testid="live-search" />
        </label>
        <label>
          Destination
          <select value={destination} onChange={(e) => setDestination((e.target as HTMLSelectElement).value)}>
            <option value="">All</option>
            {config.destinations.map((d) => (
              <option key={d.name}>{d.name}</option>
            ))}
          </select>
        </label>
        <p class={`stream ${stream}`} role="status" data-testid="stream-state">
          {stream === 'open' ? '● Live' : stream === 'unauthorized' ? 'Stream refused: enter the token again.' : stream === 'connecting' ? 'Connecting…' : 'Disconnected, reconnecting…'}
        </p>
      </form>
      {openId && !events.some((e) => e.id === openId) && initial.data ? (
        <section class="panel" aria-label={`Message ${openId}`}>
          <h2>Message {openId}</h2>
          <EventDetailView id={openId} />
        </section>
      ) : null}
      <Async state={initial} what="recent events">
        {() =>
          events.length === 0 ? (
            <Empty title={q || destination ? 'No recent message matches this filter.' : 'No messages yet.'}>
              {q || destination
                ? 'Clear the search or pick another destination.'
                : 'Messages appear here the moment they arrive. Send one to /v1/track with a source’s write key (Configuration lists the sources), or point a Segment / RudderStack SDK at this service.'}
            </Empty>
          ) : (
            <div class="table-wrap">
              <table class="live">
                <caption>Newest messages first ({events.length})</caption>
                <thead>
                  <tr>
                    <th scope="col">Message</th>
                    <th scope="col">Received</th>
                    <th scope="col">Type</th>
                    <th scope="col">Event</th>
                    <th scope="col">Profile</th>
                    <th scope="col">Source → destinations</th>
                  </tr>
                </thead>
                <tbody>
                  {events.map((e) => (
                    <EventRow key={e.id} e={e} open={open.has(e.id)} onToggle={() => toggle(e.id)} />
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Async>
    </>
  );
}

function EventRow({ e, open, onToggle }: { e: EventSummary; open: boolean; onToggle: () => void }) {
  const detailId = `event-${e.id}`;
  return (
    <>
      <tr data-testid="live-row" data-id={e.id} class={open ? 'expanded' : ''}>
        <td>
          <button type="button" class="disclosure" aria-expanded={open} aria-controls={detailId} onClick={onToggle} data-testid="live-toggle">
            <span aria-hidden="true">{open ? '▾' : '▸'}</span> <span class="mono">{e.id}</span>
            <span class="visually-hidden"> details</span>
          </button>
        </td>
        <td>{time(e.receivedAt)}</td>
        <td>{e.type}</td>
        <td>{e.event ?? '—'}</td>
        <td class="wrap">{who(e)}</td>
        <td>
          {e.source} → {e.destinations.join(', ') || 'none'}
        </td>
      </tr>
      {open ? (
        <tr id={detailId} class="detail-row">
          <td colSpan={6}>
            <p>
              <a href={href('live', e.id)}>Link to this message</a>
            </p>
            <EventDetailView id={e.id} />
          </td>
        </tr>
      ) : null}
    </>
  );
}
