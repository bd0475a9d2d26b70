/** Dead letters: why each failed, its payload; replay or discard one, a selection, or all matching a filter. */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, type Selection } from '../api';
import { useApi, useDebounced } from '../hooks';
import { dateTime } from '../format';
import type { AdminConfig, DeadLetter } from '../types';
import { Async, Empty } from '../components/states';
import { Table } from '../components/table';
import { JsonBlock } from '../components/json-block';
import { DestinationFilter } from '../components/destination-filter';
import { SearchField } from '../components/search-field';

/** Klaviyo's error detail (or whatever the detail holds) in one line. */
export function summarizeDetail(detail: unknown): string {
  if (detail == null) return '';
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) return summarizeDetail({ errors: detail });
  const d = detail as { errors?: Array<{ detail?: string; title?: string; source?: { pointer?: string } }>; message?: string; error?: unknown };
  if (Array.isArray(d.errors) && d.errors.length)
    return d.errors.map((e) => [e.detail ?? e.title, e.source?.pointer ? `(${e.source.pointer})` : ''].filter(Boolean).join(' ')).join('; ');
  if (typeof d.message === 'string') return d.message;
  if (d.error !== undefined) return summarizeDetail(d.error);
  const s = JSON.stringify(detail);
  return s.length > 240 ? `${s.slice(0, 240)}…` : s;
}

/** The first Klaviyo error's own text, to avoid repeating what the reason already says. */
function firstDetail(detail: unknown): string | undefined {
  const items = Array.isArray(detail) ? detail : (detail as { errors?: unknown[] } | null)?.errors;
  const first = Array.isArray(items) ? (items[0] as { detail?: unknown } | undefined) : undefined;
  return typeof first?.detail === 'string' ? first.detail : undefined;
}

type Pending = { kind: 'discard'; sel: Selection; count: string } | null;
type Filter = { destination: string; reason: string };

const selectionFor = (f: Filter): Selection => ({
  all: true,
  ...(f.destination ? { destination: f.destination } : {}),
  ...(f.reason ? { reason: f.reason } : {}),
});
const describe = (f: Filter) =>
  [f.destination && `destination ${f.destination}`, f.reason && `reason containing “${f.reason}”`].filter(Boolean).join(' and ') ||
  'no filter: every dead letter';

export function DeadLettersPage({ config }: { config: AdminConfig }) {
  const [destination, setDestination] = useState('');
  const [reasonInput, setReason] = useState('');
  const reason = useDebounced(reasonInput.trim());
  // Each answer remembers the filter it was loaded with: "all matching" acts on exactly that.
  const state = useApi(
    async (signal) => {
      const filter: Filter = { destination, reason };
      return { ...(await api.deadLetters({ ...filter, limit: 500 }, signal)), filter };
    },
    [destination, reason],
    { pollMs: 10_000 },
  );
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [result, setResult] = useState<{ text: string; error?: boolean } | null>(null);
  const [pending, setPending] = useState<Pending>(null);
  const [busy, setBusy] = useState(false);
  // The discard confirmation: focus moves into it, and back to the button that opened it.
  const opener = useRef<HTMLButtonElement | null>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  const resultRef = useRef<HTMLParagraphElement>(null);
  const [restoreFocus, setRestoreFocus] = useState(0);

  const rows = state.data?.deadLetters ?? [];
  // A selection only ever holds rows that are on screen.
  useEffect(() => {
    const shown = new Set(rows.map((r) => r.seq));
    setSelected((s) => new Set([...s].filter((seq) => shown.has(seq))));
  }, [state.data]);

  const shown = state.data?.filter;
  // While the typed filter has not reached the list yet, the rows on screen are another filter's: no bulk action.
  const settling = reasonInput.trim() !== reason || !shown || shown.destination !== destination || shown.reason !== reason;
  const allMatching: Selection | null = shown && !settling ? selectionFor(shown) : null;
  const filterText = describe(shown ?? { destination, reason });

  // Layout effects: the focus moves as soon as the confirmation appears or goes, not a frame later.
  useLayoutEffect(() => {
    if (pending) confirmButton.current?.focus();
  }, [pending]);
  useLayoutEffect(() => {
    if (!restoreFocus) return;
    const b = opener.current;
    // The button may be disabled now (the selection it acted on is gone): then the result takes the focus.
    if (b?.isConnected && !b.disabled) b.focus();
    else resultRef.current?.focus();
  }, [restoreFocus]);
  const cancel = () => {
    setPending(null);
    setRestoreFocus((n) => n + 1);
  };
  useEffect(() => {
    if (!pending) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      e.preventDefault();
      cancel();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [pending]);
  // A confirmation names the filter it was opened for: another filter closes it.
  useEffect(() => setPending(null), [destination, reasonInput]);
  const confirmDiscard = (e: Event, p: NonNullable<Pending>) => {
    opener.current = e.currentTarget as HTMLButtonElement;
    setPending(p);
  };

  async function run(kind: 'replay' | 'discard', sel: Selection, fromConfirm = false) {
    setBusy(true);
    setPending(null);
    try {
      if (kind === 'replay') {
        const { replayed, dropped } = await api.replay(sel);
        const extra = dropped ? ` Dropped ${dropped} whose message was queued already or replayed from a newer copy.` : '';
        setResult({ text: `Replayed ${replayed}: queued again with the current mapping. Watch them on Live events and Deliveries.${extra}` });
      } else setResult({ text: `Discarded ${(await api.discard(sel)).discarded}.` });
      setSelected(new Set());
      state.reload();
    } catch (err) {
      setResult({ text: `${kind === 'replay' ? 'Replay' : 'Discard'} failed: ${(err as Error).message}`, error: true });
    } finally {
      setBusy(false);
      if (fromConfirm) setRestoreFocus((n) => n + 1);
    }
  }

  const toggle = (seq: number) =>
    setSelected((s) => {
      const next = new Set(s);
      if (!next.delete(seq)) next.add(seq);
      return next;
    });

  return (
    <>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <DestinationFilter config={config} value={destination} onChange={setDestination} testId="dead-destination" />
        <SearchField label="Reason contains" value={reasonInput} onInput={setReason} placeholder="e.g. mapping failed" testId="dead-reason" />
      </form>
      <div class="toolbar" role="group" aria-label="Dead letter actions">
        <button type="button" disabled={busy || selected.size === 0} onClick={() => run('replay', { seqs: [...selected] })} data-testid="replay-selected">
          Replay selected ({selected.size})
        </button>
        <button
          type="button"
          disabled={busy || rows.length === 0 || !allMatching}
          onClick={() => allMatching && run('replay', allMatching)}
          data-testid="replay-all"
        >
          Replay all matching
        </button>
        <button
          type="button"
          class="danger"
          disabled={busy || selected.size === 0}
          onClick={(e) => confirmDiscard(e, { kind: 'discard', sel: { seqs: [...selected] }, count: `${selected.size} selected` })}
          data-testid="discard-selected"
        >
          Discard selected
        </button>
        <button
          type="button"
          class="danger"
          disabled={busy || rows.length === 0 || !allMatching}
          onClick={(e) => allMatching && confirmDiscard(e, { kind: 'discard', sel: allMatching, count: `all matching (${filterText})` })}
          data-testid="discard-all"
        >
          Discard all matching
        </button>
      </div>
      {pending ? (
        <div class="confirm" role="alertdialog" aria-labelledby="confirm-text" data-testid="confirm">
          <p id="confirm-text">Discard {pending.count} dead letters? They are deleted for good and cannot be replayed afterwards.</p>
          <button type="button" class="danger" onClick={() => run('discard', pending.sel, true)} data-testid="confirm-discard" ref={confirmButton}>
            Yes, discard
          </button>
          <button type="button" onClick={cancel} data-testid="confirm-cancel">
            Cancel
          </button>
        </div>
      ) : null}
      {result ? (
        <p class={result.error ? 'problem' : 'success'} role="status" data-testid="dead-result" tabIndex={-1} ref={resultRef}>
          {result.text}
        </p>
      ) : null}
      <p class="hint" data-testid="dead-scope">
        {settling
          ? 'Loading the list for the new filter…'
          : `“Replay all matching” and “Discard all matching” apply to ${filterText}, including any not shown below.`}
      </p>
      <Async state={state} what="dead letters">
        {(d) =>
          d.deadLetters.length === 0 ? (
            <Empty title={d.filter.destination || d.filter.reason ? 'No dead letter matches this filter.' : 'No dead letters.'}>
              {d.filter.destination || d.filter.reason
                ? 'Clear the filter to see all.'
                : 'Messages Klaviyo refuses, or that fail after every retry, land here with the reason.'}
            </Empty>
          ) : (
            <DeadTable rows={d.deadLetters} selected={selected} toggle={toggle} setSelected={setSelected} />
          )
        }
      </Async>
    </>
  );
}

function DeadTable({
  rows,
  selected,
  toggle,
  setSelected,
}: {
  rows: DeadLetter[];
  selected: Set<number>;
  toggle: (seq: number) => void;
  setSelected: (s: Set<number>) => void;
}) {
  const all = rows.length > 0 && rows.every((r) => selected.has(r.seq));
  return (
    <Table
      caption={`Dead letters, newest first (${rows.length})`}
      columns={[
        <input
          key="all"
          type="checkbox"
          checked={all}
          aria-label="Select all shown"
          onChange={() => setSelected(all ? new Set() : new Set(rows.map((r) => r.seq)))}
          data-testid="dead-select-all"
        />,
        'Message',
        'Reason',
        'Attempts',
        'Dead since',
        'Destination',
      ]}
      class="dead"
    >
      {rows.map((r) => (
        <DeadRow key={r.seq} r={r} checked={selected.has(r.seq)} toggle={() => toggle(r.seq)} />
      ))}
    </Table>
  );
}

function DeadRow({ r, checked, toggle }: { r: DeadLetter; checked: boolean; toggle: () => void }) {
  const [open, setOpen] = useState(false);
  const detail = summarizeDetail(r.detail);
  const id = `dead-${r.seq}`;
  return (
    <>
      <tr data-testid="dead-row" data-seq={r.seq} data-message-id={r.messageId}>
        <td>
          <input type="checkbox" checked={checked} onChange={toggle} aria-label={`Select dead letter ${r.seq} (${r.messageId})`} data-testid="dead-select" />
        </td>
        <td>
          <button type="button" class="disclosure" aria-expanded={open} aria-controls={id} onClick={() => setOpen(!open)} data-testid="dead-toggle">
            <span aria-hidden="true">{open ? '▾' : '▸'}</span> <span class="mono">{r.messageId}</span>
            <span class="visually-hidden"> payload</span>
          </button>
        </td>
        <td class="wrap">
          <span data-testid="dead-reason-text">{r.reason}</span>
          {detail && !r.reason.includes(firstDetail(r.detail) ?? detail) ? (
            <small class="detail-text" data-testid="dead-detail">
              {detail}
            </small>
          ) : null}
        </td>
        <td>{r.attempts}</td>
        <td>{dateTime(r.deadAt)}</td>
        <td>{r.destination}</td>
      </tr>
      {open ? (
        <tr id={id} class="detail-row">
          <td colSpan={6}>
            <p class="hint">Received {dateTime(r.receivedAt)}.</p>
            <JsonBlock value={r.payload} label="Payload (the stored message)" testid="dead-payload" />
            {r.detail != null ? <JsonBlock value={r.detail} label="Detail" /> : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}
