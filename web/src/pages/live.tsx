/**
 * Live events: the newest incoming messages, followed over server-sent events; each row expands to its detail.
 *
 * Under load the stream can bring thousands of messages a second: they are buffered (filtered as they come) and
 * applied in one state update at most every FLUSH_MS, and rows that did not change are not re-rendered. Each time
 * the stream (re)opens, the list is reloaded from GET /admin/events and merged, so messages that arrived while it
 * was down (a restart, a dropped connection) appear too.
 */
import { Component } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { follow, type StreamState } from '../sse';
import { useDebounced } from '../hooks';
import { time, who } from '../format';
import { href } from '../router';
import type { AdminConfig, EventSummary } from '../types';
import { Async, Empty } from '../components/states';
import { Table } from '../components/table';
import { EventDetailView } from '../components/event-detail';
import { DestinationFilter } from '../components/destination-filter';
import { SearchField } from '../components/search-field';

const KEEP = 500;
const FIRST_LOAD = 100;
const FLUSH_MS = 250;

function matches(e: EventSummary, destination: string, q: string): boolean {
  if (destination && !e.destinations.includes(destination)) return false;
  if (!q) return true;
  const needle = q.toLowerCase();
  return [e.id, e.userId, e.anonymousId, e.event, e.email].some((v) => v?.toLowerCase().includes(needle));
}

/** `newer` and `list` newest first: one list, newest first, without duplicates, at most KEEP long. */
export function mergeEvents(newer: EventSummary[], list: EventSummary[]): EventSummary[] {
  if (newer.length === 0) return list;
  const seen = new Set<string>();
  const out: EventSummary[] = [];
  for (const e of newer) if (!seen.has(e.id)) seen.add(e.id), out.push(e);
  for (const e of list) if (!seen.has(e.id)) seen.add(e.id), out.push(e);
  // A reload after an outage brings messages newer than some already shown: order by arrival (the sort is stable).
  out.sort((a, b) => b.receivedAt - a.receivedAt);
  return out.length > KEEP ? out.slice(0, KEEP) : out;
}

export function LivePage({ config, openId }: { config: AdminConfig; openId: string | null }) {
  const [destination, setDestination] = useState('');
  const [qInput, setQ] = useState('');
  const q = useDebounced(qInput.trim());
  const [list, setList] = useState<EventSummary[]>([]);
  const [load, setLoad] = useState<{ loaded: boolean; error?: Error }>({ loaded: false });
  const [stream, setStream] = useState<StreamState>('connecting');
  const [opens, setOpens] = useState(0);
  const [paused, setPaused] = useState(false);
  const [waiting, setWaiting] = useState(0);
  const [open, setOpen] = useState<Set<string>>(() => new Set(openId ? [openId] : []));

  // What the stream handler needs, without re-subscribing on every change.
  const filter = useRef({ destination, q });
  filter.current = { destination, q };
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  /** Matching messages not yet applied, oldest first. */
  const buffer = useRef<EventSummary[]>([]);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  /** How many matching messages came in while paused. */
  const missed = useRef(0);

  const flush = useCallback(() => {
    timer.current = null;
    if (pausedRef.current) {
      setWaiting(missed.current);
      return;
    }
    missed.current = 0;
    setWaiting(0);
    const batch = buffer.current.reverse();
    if (!batch.length) return;
    buffer.current = [];
    setList((l) => mergeEvents(batch, l));
  }, []);

  useEffect(() => {
    if (openId) setOpen((s) => new Set(s).add(openId));
  }, [openId]);

  // A new filter starts from the server's answer again; each (re)opened stream merges the server's list in.
  const filterKey = useRef<string | null>(null);
  const reload = useCallback(() => setOpens((n) => n + 1), []);
  useEffect(() => {
    const key = JSON.stringify([destination, q]);
    const fresh = filterKey.current !== key;
    if (fresh) {
      filterKey.current = key;
      buffer.current = [];
      missed.current = 0;
      setWaiting(0);
      setList([]);
      setLoad({ loaded: false });
    }
    const ctl = new AbortController();
    // After an outage many messages may have come in: then ask for as many as the page keeps.
    api
      .events({ destination, q, limit: fresh || opens <= 1 ? FIRST_LOAD : KEEP }, ctl.signal)
      .then((r) => {
        if (ctl.signal.aborted) return;
        setList((l) => mergeEvents(r.events, l));
        setLoad({ loaded: true });
      })
      .catch((err: Error) => {
        if (!ctl.signal.aborted && err.name !== 'AbortError') setLoad((s) => ({ loaded: s.loaded, error: err }));
      });
    return () => ctl.abort();
  }, [destination, q, opens]);

  useEffect(() => {
    const ctl = new AbortController();
    void follow(
      '/admin/events/stream',
      (e) => {
        if (e.event !== 'message') return;
        let summary: EventSummary;
        try {
          summary = JSON.parse(e.data) as EventSummary;
        } catch {
          return; /* a malformed event is skipped; the next one is independent */
        }
        if (!summary?.id || !matches(summary, filter.current.destination, filter.current.q)) return;
        const b = buffer.current;
        b.push(summary);
        if (pausedRef.current) missed.current++;
        // Only the newest KEEP can ever be shown.
        if (b.length > 2 * KEEP) b.splice(0, b.length - KEEP);
        if (timer.current === null) timer.current = setTimeout(flush, FLUSH_MS);
      },
      (s) => {
        setStream(s);
        if (s === 'open') reload();
      },
      ctl.signal,
    );
    return () => {
      ctl.abort();
      if (timer.current !== null) clearTimeout(timer.current);
      timer.current = null;
    };
  }, []);

  // Paused, the table stays as it was: neither the stream nor a reload changes it until resumed.
  const frozen = useRef<EventSummary[]>(list);
  if (!paused) frozen.current = list;
  const events = paused ? frozen.current : list;
  const togglePause = () => {
    const next = !paused;
    pausedRef.current = next;
    setPaused(next);
    if (!next) flush();
  };
  // Changing the filter is asking for another list: it resumes.
  useEffect(() => {
    if (pausedRef.current) togglePause();
  }, [destination, q]);

  const toggle = useCallback(
    (id: string) =>
      setOpen((s) => {
        const next = new Set(s);
        if (!next.delete(id)) next.add(id);
        return next;
      }),
    [],
  );

  const state = useMemo(() => ({ data: load.loaded ? events : undefined, error: load.error, loading: !load.loaded, reload }), [load, events, reload]);

  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()} role="search">
        <SearchField label="Search" value={qInput} onInput={setQ} placeholder="message id, user id, event, email" testId="live-search" />
        <DestinationFilter config={config} value={destination} onChange={setDestination} />
        <button type="button" aria-pressed={paused} onClick={togglePause} data-testid="live-pause">
          Pause
        </button>
        <p class={`stream ${paused ? 'paused' : stream}`} role="status" data-testid="stream-state">
          {paused
            ? `Paused${waiting ? `: ${waiting} new ${waiting === 1 ? 'message' : 'messages'} waiting` : ''}. Press Pause again to resume.`
            : stream === 'open'
              ? '● Live'
              : stream === 'unauthorized'
                ? 'Stream refused: enter the token again.'
                : stream === 'connecting'
                  ? 'Connecting…'
                  : 'Disconnected, reconnecting…'}
        </p>
      </form>
      {openId && !events.some((e) => e.id === openId) && load.loaded ? (
        <section class="panel" aria-label={`Message ${openId}`} data-testid="live-open">
          <h2>Message {openId}</h2>
          <EventDetailView id={openId} />
        </section>
      ) : null}
      <Async state={state} what="recent events">
        {(rows) =>
          rows.length === 0 ? (
            <Empty title={q || destination ? 'No recent message matches this filter.' : 'No messages yet.'}>
              {q || destination
                ? 'Clear the search or pick another destination.'
                : 'Messages appear here the moment they arrive. Send one to /v1/track with a source’s ' +
                  'write key (Configuration lists the sources), or point a Segment / RudderStack SDK at this service.'}
            </Empty>
          ) : (
            <Table
              caption={`Newest messages first (${rows.length})`}
              columns={['Message', 'Received', 'Type', 'Event', 'Profile', 'Source → destinations']}
              class="live"
            >
              {rows.map((e) => (
                <EventRow key={e.id} e={e} open={open.has(e.id)} onToggle={toggle} />
              ))}
            </Table>
          )
        }
      </Async>
    </>
  );
}

interface RowProps {
  e: EventSummary;
  open: boolean;
  onToggle: (id: string) => void;
}

/** A row re-renders only when its message or its open state changes, not for every message that arrives. */
class EventRow extends Component<RowProps> {
  shouldComponentUpdate(next: RowProps) {
    return next.e !== this.props.e || next.open !== this.props.open || next.onToggle !== this.props.onToggle;
  }

  render({ e, open, onToggle }: RowProps) {
    const detailId = `event-${e.id}`;
    return (
      <>
        <tr data-testid="live-row" data-id={e.id} class={open ? 'expanded' : ''}>
          <td>
            <button type="button" class="disclosure" aria-expanded={open} aria-controls={detailId} onClick={() => onToggle(e.id)} data-testid="live-toggle">
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
}
